"""An os-ken application that steers TCP flows into egress queues.

Run it with `osken-manager PATH/queues.py`. On SWITCH_FEATURES it installs,
for each `SOURCE=QUEUE` pair in the environment variable OSKEN_QUEUES
(`10.0.0.1=1,10.0.0.2=2`), the flow

    priority=10, tcp, ipv4_src=SOURCE -> set_queue(QUEUE), output(NORMAL)

with os-ken's OFPActionSetQueue, and a line `queues dpid=... n=N` to the
file named by OSKEN_QUEUES_EVENTS once the flows are sent, so a test knows
when they are in place. Everything else is left to the switch's own flows.
"""

import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class Queues(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        pairs = os.environ.get("OSKEN_QUEUES", "")
        self.rules = [
            (src, int(q))
            for src, q in (p.split("=") for p in pairs.split(",") if p)
        ]
        self.events = os.environ.get("OSKEN_QUEUES_EVENTS")

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        for src, queue in self.rules:
            match = parser.OFPMatch(eth_type=0x0800, ip_proto=6, ipv4_src=src)
            actions = [
                parser.OFPActionSetQueue(queue),
                parser.OFPActionOutput(ofp.OFPP_NORMAL),
            ]
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(
                parser.OFPFlowMod(datapath=dp, priority=10, match=match, instructions=inst)
            )
        # A barrier: the flows are in once its reply arrives; the file line
        # is written when the request is sent, so the test also waits for
        # the flows in dump-flows.
        dp.send_msg(parser.OFPBarrierRequest(dp))
        if self.events:
            with open(self.events, "a") as f:
                f.write(f"queues dpid={dp.id:016x} n={len(self.rules)}\n")
