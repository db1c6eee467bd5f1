"""The API resources the sandbox serves, and which versions of them a given cluster version serves."""

from __future__ import annotations

from dataclasses import dataclass, field

STANDARD_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ServedVersion:
    version: str
    # Minor version of Kubernetes that stops serving it (None: still served everywhere).
    removed_in: tuple[int, int] | None = None
    deprecated_in: tuple[int, int] | None = None


@dataclass(frozen=True)
class ResourceType:
    group: str
    plural: str
    kind: str
    namespaced: bool
    versions: tuple[ServedVersion, ...]
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(STANDARD_VERBS)
    categories: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        """Storage key: one store per group/resource whatever version a client uses."""
        return f"{self.group}/{self.plural}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def preferred_version(self) -> str:
        return self.versions[0].version

    def api_version(self, version: str | None = None) -> str:
        version = version or self.preferred_version
        return f"{self.group}/{version}" if self.group else version


def _v(version: str, removed: str | None = None, deprecated: str | None = None) -> ServedVersion:
    def minor(text: str | None) -> tuple[int, int] | None:
        if text is None:
            return None
        major, minor_ = text.split(".")
        return int(major), int(minor_)

    return ServedVersion(version, minor(removed), minor(deprecated))


V1 = (_v("v1"),)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "namespaces", "Namespace", False, V1, ("ns",)),
    ResourceType("", "nodes", "Node", False, V1, ("no",), ("status",)),
    ResourceType("", "pods", "Pod", True, V1, ("po",), ("eviction", "status", "log")),
    ResourceType("", "services", "Service", True, V1, ("svc",)),
    ResourceType("", "events", "Event", True, V1, ("ev",)),
    ResourceType("", "configmaps", "ConfigMap", True, V1, ("cm",)),
    ResourceType("", "secrets", "Secret", True, V1),
    ResourceType("", "serviceaccounts", "ServiceAccount", True, V1, ("sa",)),
    ResourceType("", "persistentvolumeclaims", "PersistentVolumeClaim", True, V1, ("pvc",), ("status",)),
    ResourceType("apps", "deployments", "Deployment", True, V1, ("deploy",), ("status", "scale")),
    ResourceType("apps", "replicasets", "ReplicaSet", True, V1, ("rs",), ("status", "scale")),
    ResourceType("apps", "statefulsets", "StatefulSet", True, V1, ("sts",), ("status", "scale")),
    ResourceType("apps", "daemonsets", "DaemonSet", True, V1, ("ds",), ("status",)),
    ResourceType("batch", "jobs", "Job", True, V1),
    ResourceType("batch", "cronjobs", "CronJob", True, (_v("v1"), _v("v1beta1", "1.25", "1.21")), ("cj",)),
    ResourceType(
        "policy",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        (_v("v1"), _v("v1beta1", "1.25", "1.21")),
        ("pdb",),
        ("status",),
    ),
    ResourceType(
        "policy",
        "podsecuritypolicies",
        "PodSecurityPolicy",
        False,
        (_v("v1beta1", "1.25", "1.21"),),
        ("psp",),
    ),
    ResourceType(
        "autoscaling",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        (_v("v2"), _v("v1"), _v("v2beta2", "1.26", "1.23"), _v("v2beta1", "1.25", "1.22")),
        ("hpa",),
        ("status",),
    ),
    ResourceType("networking.k8s.io", "networkpolicies", "NetworkPolicy", True, V1, ("netpol",)),
    ResourceType("networking.k8s.io", "ingresses", "Ingress", True, V1, ("ing",)),
    ResourceType("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", False, V1),
    ResourceType("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", False, V1),
    ResourceType("rbac.authorization.k8s.io", "roles", "Role", True, V1),
    ResourceType("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", True, V1),
    ResourceType(
        "flowcontrol.apiserver.k8s.io",
        "flowschemas",
        "FlowSchema",
        False,
        (_v("v1", None), _v("v1beta3", "1.32", "1.29"), _v("v1beta2", "1.29", "1.26")),
    ),
    ResourceType(
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        False,
        (_v("v1", None), _v("v1beta3", "1.32", "1.29"), _v("v1beta2", "1.29", "1.26")),
    ),
    ResourceType("metrics.k8s.io", "pods", "PodMetrics", True, (_v("v1beta1"),), verbs=("get", "list")),
    ResourceType("metrics.k8s.io", "nodes", "NodeMetrics", False, (_v("v1beta1"),), verbs=("get", "list")),
    # Answered per request, never stored (`access_review.py`).
    ResourceType(
        "authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, V1, verbs=("create",)
    ),
    ResourceType(
        "authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, V1, verbs=("create",)
    ),
)

# flowcontrol v1 only exists from 1.29: before that v1beta3/v1beta2 are the served versions.
INTRODUCED: dict[tuple[str, str], tuple[int, int]] = {
    ("flowcontrol.apiserver.k8s.io", "v1"): (1, 29),
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): (1, 26),
    ("autoscaling", "v2"): (1, 23),
    ("policy", "v1"): (1, 21),
    ("batch", "v1"): (1, 0),
}

# Subresource -> the kind it accepts/returns when it is not the parent kind.
SUBRESOURCE_KINDS: dict[str, tuple[str, str, str]] = {
    "eviction": ("policy", "v1", "Eviction"),
    "scale": ("autoscaling", "v1", "Scale"),
}


def is_served(group: str, version: ServedVersion, cluster_minor: tuple[int, int]) -> bool:
    if version.removed_in is not None and cluster_minor >= version.removed_in:
        return False
    introduced = INTRODUCED.get((group, version.version))
    return introduced is None or cluster_minor >= introduced


def served_resources(cluster_minor: tuple[int, int]) -> dict[tuple[str, str], list[ResourceType]]:
    """(group, version) -> resources that group/version serves on a cluster of this version."""
    served: dict[tuple[str, str], list[ResourceType]] = {}
    for resource in RESOURCES:
        for version in resource.versions:
            if is_served(resource.group, version, cluster_minor):
                served.setdefault((resource.group, version.version), []).append(resource)
    return served


def by_kind(kind: str) -> ResourceType:
    for resource in RESOURCES:
        if resource.kind == kind and resource.group != "metrics.k8s.io":
            return resource
    raise KeyError(kind)


def by_key(key: str) -> ResourceType:
    for resource in RESOURCES:
        if resource.key == key:
            return resource
    raise KeyError(key)
