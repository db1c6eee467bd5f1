"""The schemas behind the sandbox's OpenAPI documents, described compactly.

One entry per definition: `field type; field type; ...`. Types: `string`, `integer`, `int64`,
`boolean`, `number`, `time` (RFC 3339 string), `intstr` (int or string), `quantity`, `object` (any
fields: not checked), `[T]` (array of T), `{T}` (map of string to T) or another definition here.
Definitions are named `<group>.<version>.<Kind>` (`meta.v1.ObjectMeta`, `apps.v1.DeploymentSpec`).

These cover the fields the sandbox's scenarios, the platform's manifests (`deploy/`) and kubectl's
generators use, not every field of the real API: a definition whose nesting stops at `object` is
open below that point, so strict field validation checks only what is described.
"""

from __future__ import annotations

_DEFINITIONS: dict[str, str] = {
    # --- meta/v1 ---------------------------------------------------------------------------
    "meta.v1.ObjectMeta": """name string; generateName string; namespace string; selfLink string; uid string;
        resourceVersion string; generation int64; creationTimestamp time; deletionTimestamp time;
        deletionGracePeriodSeconds int64; labels {string}; annotations {string};
        ownerReferences [meta.v1.OwnerReference]; finalizers [string]; managedFields [meta.v1.ManagedFieldsEntry]""",
    "meta.v1.OwnerReference": """apiVersion string; kind string; name string; uid string; controller boolean;
        blockOwnerDeletion boolean""",
    "meta.v1.ManagedFieldsEntry": """manager string; operation string; apiVersion string; time time;
        fieldsType string; fieldsV1 object; subresource string""",
    "meta.v1.LabelSelector": "matchLabels {string}; matchExpressions [meta.v1.LabelSelectorRequirement]",
    "meta.v1.LabelSelectorRequirement": "key string; operator string; values [string]",
    "meta.v1.Condition": """type string; status string; observedGeneration int64; lastTransitionTime time;
        reason string; message string""",
    # --- core/v1 ---------------------------------------------------------------------------
    "core.v1.Pod": "apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec core.v1.PodSpec; status object",
    "core.v1.PodTemplateSpec": "metadata meta.v1.ObjectMeta; spec core.v1.PodSpec",
    "core.v1.PodSpec": """volumes [core.v1.Volume]; initContainers [core.v1.Container];
        containers [core.v1.Container];
        ephemeralContainers [object]; restartPolicy string; terminationGracePeriodSeconds int64;
        activeDeadlineSeconds int64; dnsPolicy string; nodeSelector {string}; serviceAccountName string;
        serviceAccount string; automountServiceAccountToken boolean; nodeName string; hostNetwork boolean;
        hostPID boolean; hostIPC boolean; shareProcessNamespace boolean; securityContext core.v1.PodSecurityContext;
        imagePullSecrets [core.v1.LocalObjectReference]; hostname string; subdomain string; affinity object;
        schedulerName string; tolerations [core.v1.Toleration]; hostAliases [object]; priorityClassName string;
        priority integer; dnsConfig object; readinessGates [object]; runtimeClassName string;
        enableServiceLinks boolean; preemptionPolicy string; overhead {quantity};
        topologySpreadConstraints [object]; setHostnameAsFQDN boolean; os object; hostUsers boolean;
        schedulingGates [object]; resourceClaims [object]; resources core.v1.ResourceRequirements""",
    "core.v1.Container": """name string; image string; command [string]; args [string]; workingDir string;
        ports [core.v1.ContainerPort]; envFrom [core.v1.EnvFromSource]; env [core.v1.EnvVar];
        resources core.v1.ResourceRequirements; resizePolicy [object]; restartPolicy string;
        volumeMounts [core.v1.VolumeMount]; volumeDevices [object]; livenessProbe core.v1.Probe;
        readinessProbe core.v1.Probe; startupProbe core.v1.Probe; lifecycle object;
        terminationMessagePath string; terminationMessagePolicy string; imagePullPolicy string;
        securityContext core.v1.SecurityContext; stdin boolean; stdinOnce boolean; tty boolean""",
    "core.v1.ContainerPort": "name string; hostPort integer; containerPort integer; protocol string; hostIP string",
    "core.v1.EnvVar": "name string; value string; valueFrom core.v1.EnvVarSource",
    "core.v1.EnvVarSource": "fieldRef object; resourceFieldRef object; configMapKeyRef object; secretKeyRef object",
    "core.v1.EnvFromSource": "prefix string; configMapRef object; secretRef object",
    "core.v1.ResourceRequirements": "limits {quantity}; requests {quantity}; claims [object]",
    "core.v1.VolumeMount": """name string; readOnly boolean; recursiveReadOnly string; mountPath string;
        subPath string; mountPropagation string; subPathExpr string""",
    "core.v1.Volume": """name string; hostPath object; emptyDir object; secret object; configMap object;
        persistentVolumeClaim object; projected object; downwardAPI object; ephemeral object; csi object;
        nfs object""",
    "core.v1.Probe": """exec object; httpGet object; tcpSocket object; grpc object; initialDelaySeconds integer;
        timeoutSeconds integer; periodSeconds integer; successThreshold integer; failureThreshold integer;
        terminationGracePeriodSeconds int64""",
    "core.v1.SecurityContext": """capabilities object; privileged boolean; seLinuxOptions object;
        windowsOptions object;
        runAsUser int64; runAsGroup int64; runAsNonRoot boolean; readOnlyRootFilesystem boolean;
        allowPrivilegeEscalation boolean; procMount string; seccompProfile object; appArmorProfile object""",
    "core.v1.PodSecurityContext": """seLinuxOptions object; windowsOptions object; runAsUser int64; runAsGroup int64;
        runAsNonRoot boolean; supplementalGroups [int64]; supplementalGroupsPolicy string; fsGroup int64;
        sysctls [object]; fsGroupChangePolicy string; seccompProfile object; appArmorProfile object;
        seLinuxChangePolicy string""",
    "core.v1.Toleration": "key string; operator string; value string; effect string; tolerationSeconds int64",
    "core.v1.LocalObjectReference": "name string",
    "core.v1.Service": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec core.v1.ServiceSpec;
        status object""",
    "core.v1.ServiceSpec": """ports [core.v1.ServicePort]; selector {string}; clusterIP string; clusterIPs [string];
        type string; externalIPs [string]; sessionAffinity string; loadBalancerIP string;
        loadBalancerSourceRanges [string]; externalName string; externalTrafficPolicy string;
        healthCheckNodePort integer; publishNotReadyAddresses boolean; sessionAffinityConfig object;
        ipFamilies [string]; ipFamilyPolicy string; allocateLoadBalancerNodePorts boolean;
        loadBalancerClass string; internalTrafficPolicy string; trafficDistribution string""",
    "core.v1.ServicePort": """name string; protocol string; appProtocol string; port integer; targetPort intstr;
        nodePort integer""",
    "core.v1.ConfigMap": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; immutable boolean;
        data {string}; binaryData {string}""",
    "core.v1.Secret": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; immutable boolean;
        data {string}; stringData {string}; type string""",
    "core.v1.ServiceAccount": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; secrets [object];
        imagePullSecrets [core.v1.LocalObjectReference]; automountServiceAccountToken boolean""",
    "core.v1.Namespace": "apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec object; status object",
    # --- apps/v1, batch/v1 -----------------------------------------------------------------
    "apps.v1.Deployment": """apiVersion string; kind string; metadata meta.v1.ObjectMeta;
        spec apps.v1.DeploymentSpec; status object""",
    "apps.v1.DeploymentSpec": """replicas integer; selector meta.v1.LabelSelector; template core.v1.PodTemplateSpec;
        strategy apps.v1.DeploymentStrategy; minReadySeconds integer; revisionHistoryLimit integer;
        paused boolean; progressDeadlineSeconds integer""",
    "apps.v1.DeploymentStrategy": "type string; rollingUpdate apps.v1.RollingUpdateDeployment",
    "apps.v1.RollingUpdateDeployment": "maxUnavailable intstr; maxSurge intstr",
    "batch.v1.Job": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec batch.v1.JobSpec;
        status object""",
    "batch.v1.JobSpec": """parallelism integer; completions integer; activeDeadlineSeconds int64;
        podFailurePolicy object; successPolicy object; backoffLimit integer; backoffLimitPerIndex integer;
        maxFailedIndexes integer; selector meta.v1.LabelSelector; manualSelector boolean;
        template core.v1.PodTemplateSpec; ttlSecondsAfterFinished integer; completionMode string;
        suspend boolean; podReplacementPolicy string; managedBy string""",
    "batch.v1.CronJob": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec batch.v1.CronJobSpec;
        status object""",
    "batch.v1.CronJobSpec": """schedule string; timeZone string; startingDeadlineSeconds int64;
        concurrencyPolicy string; suspend boolean; jobTemplate batch.v1.JobTemplateSpec;
        successfulJobsHistoryLimit integer; failedJobsHistoryLimit integer""",
    "batch.v1.JobTemplateSpec": "metadata meta.v1.ObjectMeta; spec batch.v1.JobSpec",
    # --- autoscaling/v2, policy/v1, networking/v1 ------------------------------------------
    "autoscaling.v2.HorizontalPodAutoscaler": """apiVersion string; kind string; metadata meta.v1.ObjectMeta;
        spec autoscaling.v2.HorizontalPodAutoscalerSpec; status object""",
    "autoscaling.v2.HorizontalPodAutoscalerSpec": """scaleTargetRef autoscaling.v2.CrossVersionObjectReference;
        minReplicas integer; maxReplicas integer; metrics [autoscaling.v2.MetricSpec]; behavior object""",
    "autoscaling.v2.CrossVersionObjectReference": "kind string; name string; apiVersion string",
    "autoscaling.v2.MetricSpec": """type string; object object; pods object;
        resource autoscaling.v2.ResourceMetricSource;
        containerResource object; external object""",
    "autoscaling.v2.ResourceMetricSource": "name string; target autoscaling.v2.MetricTarget",
    "autoscaling.v2.MetricTarget": "type string; value quantity; averageValue quantity; averageUtilization integer",
    "policy.v1.PodDisruptionBudget": """apiVersion string; kind string; metadata meta.v1.ObjectMeta;
        spec policy.v1.PodDisruptionBudgetSpec; status object""",
    "policy.v1.PodDisruptionBudgetSpec": """minAvailable intstr; selector meta.v1.LabelSelector;
        maxUnavailable intstr;
        unhealthyPodEvictionPolicy string""",
    "networking.v1.NetworkPolicy": """apiVersion string; kind string; metadata meta.v1.ObjectMeta;
        spec networking.v1.NetworkPolicySpec""",
    "networking.v1.NetworkPolicySpec": """podSelector meta.v1.LabelSelector;
        ingress [networking.v1.NetworkPolicyIngressRule];
        egress [networking.v1.NetworkPolicyEgressRule]; policyTypes [string]""",
    "networking.v1.NetworkPolicyIngressRule": """ports [networking.v1.NetworkPolicyPort];
        from [networking.v1.NetworkPolicyPeer]""",
    "networking.v1.NetworkPolicyEgressRule": """ports [networking.v1.NetworkPolicyPort];
        to [networking.v1.NetworkPolicyPeer]""",
    "networking.v1.NetworkPolicyPort": "protocol string; port intstr; endPort integer",
    "networking.v1.NetworkPolicyPeer": """podSelector meta.v1.LabelSelector; namespaceSelector meta.v1.LabelSelector;
        ipBlock object""",
    # --- rbac/v1 ---------------------------------------------------------------------------
    "rbac.v1.Role": "apiVersion string; kind string; metadata meta.v1.ObjectMeta; rules [rbac.v1.PolicyRule]",
    "rbac.v1.ClusterRole": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; rules [rbac.v1.PolicyRule];
        aggregationRule object""",
    "rbac.v1.PolicyRule": """verbs [string]; apiGroups [string]; resources [string]; resourceNames [string];
        nonResourceURLs [string]""",
    "rbac.v1.RoleBinding": """apiVersion string; kind string; metadata meta.v1.ObjectMeta; subjects [rbac.v1.Subject];
        roleRef rbac.v1.RoleRef""",
    "rbac.v1.ClusterRoleBinding": """apiVersion string; kind string; metadata meta.v1.ObjectMeta;
        subjects [rbac.v1.Subject]; roleRef rbac.v1.RoleRef""",
    "rbac.v1.Subject": "kind string; apiGroup string; name string; namespace string",
    "rbac.v1.RoleRef": "apiGroup string; kind string; name string",
}

# Short descriptions `kubectl explain` prints; the rest of the fields have none.
DESCRIPTIONS: dict[str, str] = {
    "core.v1.Pod": "Pod is a collection of containers that can run on a host. This resource is created by "
    "clients and scheduled onto hosts.",
    "core.v1.PodSpec": "PodSpec is a description of a pod.",
    "core.v1.Container": "A single application container that you want to run within a pod.",
    "meta.v1.ObjectMeta": "ObjectMeta is metadata that all persisted resources must have, which includes all "
    "objects users must create.",
    "apps.v1.Deployment": "Deployment enables declarative updates for Pods and ReplicaSets.",
    "core.v1.Service": "Service is a named abstraction of software service (for example, mysql) consisting of "
    "local port (for example 3306) that the proxy listens on, and the selector that determines which pods will "
    "answer requests sent through the proxy.",
}

FIELD_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("core.v1.Pod", "spec"): "Specification of the desired behavior of the pod.",
    ("core.v1.Pod", "status"): "Most recently observed status of the pod. Populated by the system. Read-only.",
    ("core.v1.Pod", "metadata"): "Standard object's metadata.",
    ("core.v1.PodSpec", "containers"): "List of containers belonging to the pod. There must be at least one "
    "container in a Pod. Cannot be updated.",
}


def parse_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for entry in text.split(";"):
        name, kind = entry.split()
        fields[name] = kind
    return fields


DEFINITIONS: dict[str, dict[str, str]] = {name: parse_fields(text) for name, text in _DEFINITIONS.items()}

# Package path of each API group's types, as the real documents name them.
GROUP_PACKAGES: dict[str, str] = {
    "": "core",
    "apps": "apps",
    "batch": "batch",
    "policy": "policy",
    "autoscaling": "autoscaling",
    "networking.k8s.io": "networking",
    "rbac.authorization.k8s.io": "rbac",
    "flowcontrol.apiserver.k8s.io": "flowcontrol",
    "authorization.k8s.io": "authorization",
}


def full_name(short: str) -> str:
    """`apps.v1.Deployment` -> `io.k8s.api.apps.v1.Deployment` (meta types live in apimachinery)."""
    if short.startswith("meta."):
        return "io.k8s.apimachinery.pkg.apis." + short
    return "io.k8s.api." + short
