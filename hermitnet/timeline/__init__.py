"""The scenario clock: every event and every measurement of a run on one timeline.

    events  scenario -> the sorted, merged, validated list of events (pure, no root)
    player  plays a schedule of timed actions on the monotonic clock from t = 0
    actions what each kind of event does to a live run (REST, links, servers, radio)

t = 0 is the moment the network is up and the policy is installed on every switch.
"""
