"""Censors on the paths the national controller does not run (scenario `censors:`).

`rules` turns a censor's scenario rules into what its host loads (iptables rules, tc commands,
the injector's configuration) and reads the counters back, as pure functions; `injector` is the
process inside the censor host that answers the packets the kernel queues to it (`nfqueue`).
The emulation sets the host up (hermitnet.emulation.censor).
"""
