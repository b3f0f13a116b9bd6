"""Lab-VM proof: the install path and the baseline scenario on a real VM under QEMU.

This machine kind has neither the openvswitch kernel module nor netem, but a Debian 12 VM
booted with QEMU's software emulation has both. The harness:

1. builds a Debian 12 disk image with ``mmdebstrap`` (cached under
   ``~/.cache/hermitnet/labvm/<recipe-hash>/``, never inside the repository),
2. boots a throwaway copy-on-write overlay of it with SSH forwarded on 127.0.0.1,
3. checks that apt and pip's HTTPS index work inside the guest,
4. copies the checkout in, runs ``make setup`` and then the baseline scenario,
5. fetches ``results.json`` and checks kernel datapath, netem and measured delay,

and always powers the VM off and removes its run files, also on failure and on Ctrl-C.

Only the standard library is used: the harness runs on the host's ``/usr/bin/python3`` before
anything of the project is installed. Entry point: ``python3 -m labvm --help``.
"""

LOG_PREFIX = "[labvm]"
