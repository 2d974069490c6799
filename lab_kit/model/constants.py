"""Every default of the lab in one commented table (in the spirit of xv6's param.h).

Values follow kind/kubeadm where Kubernetes itself leaves them to the installer, so what a
learner sees here matches what they would see on a kind cluster.
"""

# --- Addresses ---------------------------------------------------------------------------
NODE_CIDR = "172.18.0.0/16"  # kind's docker network; nodes are .2, .3, ...
CLUSTER_CIDR = "10.244.0.0/16"  # pod addresses (kubeadm/flannel default), one /24 per node
NODE_POD_PREFIX = 24
SERVICE_CIDR = "10.96.0.0/12"  # kubeadm's default serviceSubnet
MAX_SERVICE_CIDR_BITS = 20  # kube-apiserver's maxCIDRBits: no IPv4 service range above a /12
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
# kube-apiserver's watch cache grows to at most 100 * 1024 events per resource
# (cacher's defaultUpperBoundCapacity); the lab keeps one window for every kind.
WATCH_HISTORY_EVENTS = 100_000  # events kept for watches that resume from an old version
# Also bounded by size (the lab's own bound: etcd compacts by time, the watch cache by count,
# and neither holds 300 versions of a 600 kB ConfigMap in one Python process). Counted as
# encoded JSON of each event's object and previous version; older versions answer 410 Gone.
WATCH_HISTORY_BYTES = 32 * 1024 * 1024
# One watch's queue of events not yet written. kube-apiserver closes a watcher whose buffer
# stays full ("Forcing ... watcher close due to unresponsiveness", cacher's cacheWatcher.add);
# the lab cannot block the writer for a time budget, so it closes a watch whose queue passes
# either bound, and the client lists again (client-go's Reflector, our informer).
WATCH_QUEUE_EVENTS = 10_000
WATCH_QUEUE_BYTES = 16 * 1024 * 1024

# --- Hostile input: what kube-apiserver and kubectl bound ---------------------------------------
# k8s.io/apiserver/pkg/server/config.go: MaxRequestBodyBytes = 3 * 1024 * 1024, answered with
# 413 "Request entity too large: limit is 3145728" (handlers/rest.go limitedReadBody).
MAX_REQUEST_BYTES = 3 * 1024 * 1024
# A manifest file: `labkit apply` sends every document in one request, so nothing larger can
# ever be applied; refused before parsing.
MAX_MANIFEST_BYTES = MAX_REQUEST_BYTES
# Nesting depth of YAML and JSON values. go-yaml (yaml.v2/v3, under sigs.k8s.io/yaml) and
# Go's encoding/json stop at 10000 ("exceeded max depth of 10000"); CPython's recursion
# limit (1000 frames, ~4 per level in PyYAML's composer) cannot go there, and the deepest
# path of a real object (a Deployment's pod template affinity terms) is under 20 levels.
MAX_NESTING_DEPTH = 100
# Values in one manifest file (alias expansions counted, as go-yaml's decodeCount counts
# them). go-yaml has no such bound; a PyYAML node costs ~400 bytes while composing, so this
# keeps reading a file under ~40 MB. A hand-written manifest has hundreds.
MAX_MANIFEST_NODES = 100_000

# --- The API server's connections (k8s.io/apiserver/pkg/server/secure_serving.go) ------------
IDLE_TIMEOUT_S = 90  # http.Server IdleTimeout: "matches http.DefaultTransport keep-alive"
READ_HEADER_TIMEOUT_S = 32  # http.Server ReadHeaderTimeout: "just shy of requestTimeoutUpperBound"
REQUEST_TIMEOUT_S = 60  # --request-timeout (1m0s): 504 "Timeout: request did not complete ..."
MAX_REQUESTS_INFLIGHT = 400  # --max-requests-inflight: non-mutating requests at once
MAX_MUTATING_REQUESTS_INFLIGHT = 200  # --max-mutating-requests-inflight
RETRY_AFTER_S = 1  # filters/maxinflight.go: a 429 carries "Retry-After: 1"
# Long-running requests (watches, and the lab's /lab/v1/converged waits) are not counted
# in flight by kube-apiserver either; the lab caps them (a lab runs ~50 watches).
MAX_WATCHES = 1000
# Open connections. Go's server has no cap (a container runtime gives kube-apiserver about
# a million file descriptors); the lab raises its soft RLIMIT_NOFILE to the hard limit at
# start and keeps this many (fewer when the limit is lower); past it, a new connection
# closes the longest-idle one, or is refused when none is idle.
MAX_CONNECTIONS = 4096
# Descriptors kept free under the limit: the process's own (~30), and connections asyncio
# has accepted but not yet handed to the server (up to its backlog, 100, per turn of the
# loop, handed over two turns later: ~300 in a flood).
FD_HEADROOM = 512

# --- Agents' logs --------------------------------------------------------------------------
# kubelet's --container-log-max-size default (10Mi): past it an agent's log says so and stops.
MAX_AGENT_LOG_BYTES = 10 * 1024 * 1024
# The same line (logger, level, text) logged more than LOG_REPEAT_BURST times in
# LOG_REPEAT_WINDOW_S is dropped, and counted in the next one that passes (klog has no
# such filter; one failing accept() per loop turn once wrote 108 MB in 30 s).
LOG_REPEAT_BURST = 5
LOG_REPEAT_WINDOW_S = 60
