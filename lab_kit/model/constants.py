"""Every default of the lab in one commented table (in the spirit of xv6's param.h).

Values follow kind/kubeadm where Kubernetes itself leaves them to the installer, so what a
learner sees here matches what they would see on a kind cluster.
"""

# --- Addresses ---------------------------------------------------------------------------
NODE_CIDR = "172.18.0.0/16"  # kind's docker network; nodes are .2, .3, ...
CLUSTER_CIDR = "10.244.0.0/16"  # pod addresses (kubeadm/flannel default), one /24 per node
NODE_POD_PREFIX = 24
SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's default serviceSubnet
KUBERNETES_SERVICE_IP = "10.96.0.1"  # first address of SERVICE_CIDR
CLUSTER_DNS_IP = "10.96.0.10"  # kubeadm: the 10th address of SERVICE_CIDR
NODE_PORT_RANGE = (30000, 32767)  # --service-node-port-range, inclusive
CLUSTER_DOMAIN = "cluster.local"

# --- API objects -----------------------------------------------------------------------
DEFAULT_NAMESPACE = "default"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
API_SERVER_PORT = 6443  # the `kubernetes` Service's targetPort (kubeadm's bind port)
SESSION_AFFINITY_DEFAULT_TIMEOUT_S = 10800  # DefaultClientIPServiceAffinitySeconds (3 h)
SESSION_AFFINITY_MAX_TIMEOUT_S = 86400  # MaxClientIPServiceAffinitySeconds (1 day)
TERMINATION_GRACE_PERIOD_S = 30  # pod.spec.terminationGracePeriodSeconds default
MAX_ENDPOINTS_PER_SLICE = 100  # kube-controller-manager --max-endpoints-per-slice
MAX_ENDPOINTS_PER_ENDPOINTS = 1000  # Endpoints are truncated beyond this

# --- Probes (pkg/apis/core/v1/defaults.go SetDefaults_Probe) ------------------------------
PROBE_PERIOD_S = 10
PROBE_TIMEOUT_S = 1
PROBE_SUCCESS_THRESHOLD = 1
PROBE_FAILURE_THRESHOLD = 3

# --- Deployments (apps/v1 defaults) ---------------------------------------------------------
DEPLOYMENT_MAX_SURGE = "25%"
DEPLOYMENT_MAX_UNAVAILABLE = "25%"
DEPLOYMENT_REVISION_HISTORY_LIMIT = 10
DEPLOYMENT_PROGRESS_DEADLINE_S = 600

# --- The watch cache -----------------------------------------------------------------------
WATCH_HISTORY_EVENTS = 100_000  # events kept for watches that resume from an old version
