"""Check what this machine can emulate, and say what a run here will and will not do.

Exit code 0 when a run can start, 1 otherwise.
"""

from __future__ import annotations

import json

from hermitnet.emulation import capabilities


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args) -> int:
    caps = capabilities.detect()
    will, will_not = capabilities.describe(caps)
    meters = capabilities.probe_meters(caps.kernel_datapath) if caps.ovs_running and caps.root \
        else None
    if meters == 0:
        will_not.append("tier rate limits (rate_mbps): this datapath has no OpenFlow meters")
    if args.json:
        print(json.dumps({**caps.to_dict(), "max_meters": meters, "emulated": will,
                          "not_emulated": will_not}, indent=2))
        return 0 if not caps.problems else 1
    print(f"root:            {'yes' if caps.root else 'no'}")
    running = "running" if caps.ovs_running else "NOT running"
    print(f"Open vSwitch:    {caps.ovs or 'missing'} ({running})")
    print(f"datapath:        {caps.datapath}"
          + ("" if caps.kernel_datapath else " (no openvswitch kernel module)"))
    print(f"netem:           {'yes' if caps.netem else 'no'}")
    print(f"delay line:      {'yes' if caps.userspace_delay else 'no'} (userspace: TAP, tc "
          "clsact + bpf + mirred)")
    print(f"delay by:        {caps.delay_line or 'nothing'}"
          + (" (no netem: the userspace delay line)" if caps.delay_line == "userspace" else ""))
    print(f"HTB:             {'yes' if caps.htb else 'no'}")
    print(f"nftables numgen: {'yes' if caps.nft else 'no'}")
    print(f"Mininet:         {caps.mininet or 'missing'}")
    print(f"controller:      {caps.controller or 'missing'}")
    print(f"iperf3:          {caps.iperf3 or 'missing'}")
    print(f"dnsmasq:         {caps.dnsmasq or 'missing'}")
    print(f"dig:             {caps.dig or 'missing'}")
    print(f"scapy:           {caps.scapy or 'missing'}")
    print(f"kernel:          {caps.kernel}")
    print(f"OpenFlow meters: {meters if meters is not None else 'unknown (needs root and OVS)'}")
    print("\nA run on this machine will emulate:")
    print("\n".join(f"  - {line}" for line in will))
    if will_not:
        print("and will NOT emulate (reported in every results.json):")
        print("\n".join(f"  - {line}" for line in will_not))
    if caps.problems:
        print("\nA run cannot start until this is fixed:")
        print("\n".join(f"  - {line}" for line in caps.problems))
        return 1
    return 0
