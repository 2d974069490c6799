"""Pure rendering: desired state -> the text or plans the kernel is given (iptables-restore
input, routes). Adapters apply what these functions return; nothing here touches a kernel."""
