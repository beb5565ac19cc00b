# An os-ken application that programs a full mesh of flow-based tunnels
# (remote_ip=flow, key=flow) between hypervisors, one VNI per tenant, as
# an overlay controller does: a tenant port's traffic gets the tenant's
# tunnel_id and the far hypervisor's tun_dst (Nicira's tun_ipv4_dst) and
# goes out of the one tunnel port; what arrives from the tunnel port goes
# to the tenant port of its tunnel_id.
#
# The topology is a JSON file named by OVERLAY_TOPO:
#   {"tunnel_port": 10,
#    "hypervisors": [{"dpid": 1, "vtep": "192.168.50.1",
#                     "tenants": {"100": {"port": 1, "mac": "02:..."}, ...}}]}
# Each switch that connects gets its flows, then a barrier; the barrier's
# reply appends "ready DPID" to the file named by OVERLAY_EVENTS.

import json
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class Overlay(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with open(os.environ["OVERLAY_TOPO"]) as f:
            self.topo = json.load(f)
        self.events_file = os.environ.get("OVERLAY_EVENTS")

    def note(self, line):
        if self.events_file:
            with open(self.events_file, "a") as f:
                f.write(line + "\n")

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, p = dp.ofproto, dp.ofproto_parser
        mine = [h for h in self.topo["hypervisors"] if h["dpid"] == dp.id]
        if not mine:
            self.logger.warning("unknown datapath %016x", dp.id)
            return
        me = mine[0]
        others = [h for h in self.topo["hypervisors"] if h["dpid"] != dp.id]
        tunnel = self.topo["tunnel_port"]

        def add(priority, match, actions):
            inst = [p.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(p.OFPFlowMod(datapath=dp, priority=priority, match=match, instructions=inst))

        def to(vni, hv):
            return [
                p.OFPActionSetField(tunnel_id=vni),
                p.OFPActionSetField(tun_ipv4_dst=hv["vtep"]),
                p.OFPActionOutput(tunnel),
            ]

        for vni_text, tenant in me["tenants"].items():
            vni = int(vni_text)
            port = tenant["port"]
            add(100, p.OFPMatch(in_port=tunnel, tunnel_id=vni), [p.OFPActionOutput(port)])
            for o in others:
                far = o["tenants"][vni_text]
                add(100, p.OFPMatch(in_port=port, eth_dst=far["mac"]), to(vni, o))
            flood = []
            for o in others:
                flood += to(vni, o)
            add(50, p.OFPMatch(in_port=port), flood)
        dp.send_msg(p.OFPBarrierRequest(dp))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier(self, ev):
        self.note("ready %d" % ev.msg.datapath.id)
