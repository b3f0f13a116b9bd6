"""The national 3G network for `mn --custom`: hermitnet's Topo, built from a scenario file.

Run Mininet with the Python that has hermitnet installed (the project venv); the scenario is a
file relative to the working directory, or the name of a shipped scenario. The Topo's graph only:
plain learning switches, no tier policy; every host reaches every other:

    sudo .venv/bin/python /usr/bin/mn --custom topologies/national3g.py \
         --topo national3g,scenarios/baseline.yaml \
         --switch ovs,datapath=user,failMode=standalone --controller none --test pingall

`hermitnet run` builds the same Topo (hermitnet.emulation.topology) with its own switch,
controller and shaping classes.
"""

from hermitnet.emulation.topology import National3GTopo

topos = {"national3g": National3GTopo}
