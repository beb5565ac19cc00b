"""An os-ken application that steers TCP flows into egress queues.

Run it with `osken-manager PATH/queues.py`. On SWITCH_FEATURES it installs,
for each `SOURCE=QUEUE` pair in the environment variable OSKEN_QUEUES
(`10.0.0.1=1,10.0.0.2=2`), the flow

    priority=10, tcp, ipv4_src=SOURCE -> set_queue(QUEUE), output(NORMAL)

with os-ken's OFPActionSetQueue, then a barrier. Everything else is left
to the switch's own flows.
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
        self.queue_rules = [
            (src, int(q))
            for src, q in (p.split("=") for p in pairs.split(",") if p)
        ]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        for src, queue in self.queue_rules:
            match = parser.OFPMatch(eth_type=0x0800, ip_proto=6, ipv4_src=src)
            actions = [
                parser.OFPActionSetQueue(queue),
                parser.OFPActionOutput(ofp.OFPP_NORMAL),
            ]
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(
                parser.OFPFlowMod(datapath=dp, priority=10, match=match, instructions=inst)
            )
        dp.send_msg(parser.OFPBarrierRequest(dp))
