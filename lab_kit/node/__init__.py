"""The kubelet's decisions, without the kubelet's I/O.

What a node agent must compute for a Pod, kept pure so each rule can be read and tested on
its own: the container environment (`envvars`), resolv.conf, /etc/hosts and hostnames
(`dnsconfig`), the probe workers' state machine and restart back-off (`probes`), and the
Pod status the kubelet writes back (`podstatus`). Time arrives as `now` (epoch seconds);
processes, files and sockets belong to `lab_kit.agents`.
"""
