"""The child: runs the user's integration in the project's own interpreter.

Started by ``runtime/runner.py`` as ``<project python> -m tensorleap_ls_child`` with only this
package's folder added to the path, so its module names cannot shadow the user's (and the
server's cannot either). Standard library, numpy and code_loader only, Python 3.8+: it must
not import tensorleap_ls (the project's interpreter need not have it).

    guard        the guardian process: subreaper, kills everything when the server goes away
    sandbox      protocol channel, stack traces, per-call time limits, ``send``
    protocol     request dataclasses, shared with the server
    wire         what may cross the wire (scrubbed, strict JSON, bounded), shared with the server
    state        the loaded entry, its preprocess result
    where        which line of the user's code a failure or a function is at
    values       array summaries, values for display
    load         importing the entry the way the platform does
    samples      preprocess and the checks on samples
    visuals      visualizer checks and images for the server to render
    integration  running the integration test (and recording what it computes)
    preview      one sample, as the platform would show it
    __main__     the request loop
"""
