"""The tier policy, pure: no Ryu, no switch, no clock (changes over time are timeline events).

    state     what the policy says now (tiers, members, blocklist, rates); to/from JSON, and the
              live copy a restarted controller takes up again
    pipeline  the declared OpenFlow table pipeline and the verifier every rule passes
    compile   plan + state -> rules and meters per switch, by sections (one switch's rules
              that depend on one part of the state); a compile after a change rebuilds only
              the sections whose part changed
    diff      what changes between two compiled policies: the flow and meter adds, modifies and
              deletes to send to each switch (only the sections that differ are compared)
    messages  the OpenFlow 1.3 messages for rules, meters and diffs, built with a datapath's
              own parser (nothing sent)
    requests  validation of live change requests (the REST API's logic), every error naming
              its field
    views     what the REST API returns
    timeline  which state was in force when on a run's clock (from its policy events and the
              times they took effect): what every verdict of the results is judged by

The controller app (controllers/tiered_routing.py) only sends these messages and answers.
"""
