"""An OpenFlow 1.3 MAC-learning switch for os-ken, used to drive switchd.

Run it with `osken-manager PATH/learning_switch.py`. The controller keeps
one table per switch mapping a source MAC address to the port it was seen
on. The switch does the forwarding: the controller only sees the packets
that no flow matches, so once both directions of a conversation have a flow
it sees nothing more of it.

* On SWITCH_FEATURES: install the table-miss flow (priority 0, match all,
  output to CONTROLLER with no buffering, so packet-ins carry whole frames).
* On PACKET_IN: learn eth_src -> in_port. If eth_dst is known, install the
  flow (in_port, eth_dst, eth_src) -> output:port at priority 1 and send the
  packet there; otherwise flood it with a PACKET_OUT.

If the environment variable OSKEN_LS_EVENTS names a file, one line is
appended and flushed per event, so a test can count packet-ins:

    features dpid=0000000000000001
    packet_in dpid=... in_port=1 src=... dst=... ethertype=0x0800
    role_reply dpid=... role=master generation=1

OSKEN_LS_ROLE (master, slave or equal) makes the app claim that role with
OFPT_ROLE_REQUEST (generation OSKEN_LS_GENERATION, default 1) before it
installs anything, to test multi-controller setups.
"""

import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER
from os_ken.controller.handler import set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3

# Priority of the per-conversation flows; the table-miss flow has 0.
FLOW_PRIORITY = 1

ROLES = {
    "equal": ofproto_v1_3.OFPCR_ROLE_EQUAL,
    "master": ofproto_v1_3.OFPCR_ROLE_MASTER,
    "slave": ofproto_v1_3.OFPCR_ROLE_SLAVE,
}


class LearningSwitch(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # dpid -> {mac: port}
        self.ports_by_mac = {}
        path = os.environ.get("OSKEN_LS_EVENTS")
        self.event_log = open(path, "a", buffering=1) if path else None
        self.role = os.environ.get("OSKEN_LS_ROLE")
        self.generation = int(os.environ.get("OSKEN_LS_GENERATION", "1"))

    def record(self, line):
        if self.event_log is not None:
            self.event_log.write(line + "\n")
            self.event_log.flush()

    @staticmethod
    def send_flow(datapath, priority, match, actions, buffer_id=None):
        ofp = datapath.ofproto
        parser = datapath.ofproto_parser
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        if buffer_id is None:
            buffer_id = ofp.OFP_NO_BUFFER
        datapath.send_msg(
            parser.OFPFlowMod(
                datapath=datapath,
                priority=priority,
                match=match,
                instructions=inst,
                buffer_id=buffer_id,
            )
        )

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def on_features(self, ev):
        datapath = ev.msg.datapath
        ofp = datapath.ofproto
        parser = datapath.ofproto_parser
        self.ports_by_mac.setdefault(datapath.id, {})
        if self.role is not None:
            datapath.send_msg(
                parser.OFPRoleRequest(datapath, ROLES[self.role], self.generation)
            )
        to_controller = [
            parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
        ]
        self.send_flow(datapath, 0, parser.OFPMatch(), to_controller)
        self.record("features dpid=%016x" % datapath.id)

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    def on_role_reply(self, ev):
        msg = ev.msg
        names = {code: name for name, code in ROLES.items()}
        self.record(
            "role_reply dpid=%016x role=%s generation=%d"
            % (msg.datapath.id, names.get(msg.role, str(msg.role)), msg.generation_id)
        )

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def on_packet_in(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofp = datapath.ofproto
        parser = datapath.ofproto_parser
        in_port = msg.match["in_port"]

        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None:
            return
        self.record(
            "packet_in dpid=%016x in_port=%d src=%s dst=%s ethertype=0x%04x"
            % (datapath.id, in_port, eth.src, eth.dst, eth.ethertype)
        )

        table = self.ports_by_mac.setdefault(datapath.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]

        if out_port != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=in_port, eth_dst=eth.dst, eth_src=eth.src)
            if msg.buffer_id != ofp.OFP_NO_BUFFER:
                # The switch applies the flow to the buffered packet itself.
                self.send_flow(datapath, FLOW_PRIORITY, match, actions, msg.buffer_id)
                return
            self.send_flow(datapath, FLOW_PRIORITY, match, actions)

        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath,
                buffer_id=msg.buffer_id,
                in_port=in_port,
                actions=actions,
                data=data,
            )
        )
