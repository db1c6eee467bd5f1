"""Protobuf field tables of the built-in kinds kubectl builds itself, from k8s.io/api's generated.proto.

One line per field: `jsonName number kind [list|map|opt|inline]`. A kind is a scalar (`string`, `int32`,
`int64`, `bool`, `bytes`), a wrapped scalar (`time` for metav1.Time, `intstr` for IntOrString,
`quantity` for resource.Quantity, `raw` for runtime.RawExtension) or another message of this table.
A map's kind is its value's kind (keys are strings). `opt` marks a pointer field, whose zero
value is kept; other zero scalars are left out, as Go's JSON encoder leaves out empty `omitempty` fields.
`inline` marks an embedded struct, whose fields JSON carries in the parent.
"""

from __future__ import annotations

Field = tuple[str, str, str]

_TABLES: dict[str, str] = {
    # --- meta/v1 ---------------------------------------------------------------------------
    "ObjectMeta": """name 1 string; generateName 2 string; namespace 3 string; selfLink 4 string; uid 5 string;
        resourceVersion 6 string; generation 7 int64; creationTimestamp 8 time; deletionTimestamp 9 time;
        deletionGracePeriodSeconds 10 int64 opt; labels 11 string map; annotations 12 string map;
        ownerReferences 13 OwnerReference list; finalizers 14 string list; managedFields 17 ManagedFieldsEntry list""",
    "OwnerReference": """kind 1 string; name 3 string; uid 4 string; apiVersion 5 string; controller 6 bool opt;
        blockOwnerDeletion 7 bool opt""",
    "ManagedFieldsEntry": """manager 1 string; operation 2 string; apiVersion 3 string; time 4 time;
        fieldsType 6 string; fieldsV1 7 raw; subresource 8 string""",
    "LabelSelector": "matchLabels 1 string map; matchExpressions 2 LabelSelectorRequirement list",
    "LabelSelectorRequirement": "key 1 string; operator 2 string; values 3 string list",
    "Condition": """type 1 string; status 2 string; observedGeneration 3 int64; lastTransitionTime 4 time;
        reason 5 string; message 6 string""",
    # --- core/v1 ---------------------------------------------------------------------------
    "Namespace": "metadata 1 ObjectMeta; spec 2 NamespaceSpec; status 3 NamespaceStatus",
    "NamespaceSpec": "finalizers 1 string list",
    "NamespaceStatus": "phase 1 string",
    "ConfigMap": "metadata 1 ObjectMeta; data 2 string map; binaryData 3 bytes map; immutable 4 bool opt",
    "Secret": "metadata 1 ObjectMeta; data 2 bytes map; type 3 string; stringData 4 string map; immutable 5 bool opt",
    "ServiceAccount": """metadata 1 ObjectMeta; secrets 2 ObjectReference list;
        imagePullSecrets 3 LocalObjectReference list; automountServiceAccountToken 4 bool opt""",
    "ObjectReference": """kind 1 string; namespace 2 string; name 3 string; uid 4 string; apiVersion 5 string;
        resourceVersion 6 string; fieldPath 7 string""",
    "LocalObjectReference": "name 1 string",
    "Service": "metadata 1 ObjectMeta; spec 2 ServiceSpec; status 3 ServiceStatus",
    "ServiceSpec": """ports 1 ServicePort list; selector 2 string map; clusterIP 3 string; type 4 string;
        externalIPs 5 string list; sessionAffinity 7 string; loadBalancerIP 8 string;
        loadBalancerSourceRanges 9 string list; externalName 10 string; externalTrafficPolicy 11 string;
        healthCheckNodePort 12 int32; publishNotReadyAddresses 13 bool; ipFamilyPolicy 17 string;
        clusterIPs 18 string list; ipFamilies 19 string list; allocateLoadBalancerNodePorts 20 bool opt;
        loadBalancerClass 21 string; internalTrafficPolicy 22 string; trafficDistribution 23 string""",
    "ServicePort": """name 1 string; protocol 2 string; port 3 int32; targetPort 4 intstr; nodePort 5 int32;
        appProtocol 6 string""",
    "ServiceStatus": "loadBalancer 1 LoadBalancerStatus; conditions 2 Condition list",
    "LoadBalancerStatus": "ingress 1 LoadBalancerIngress list",
    "LoadBalancerIngress": "ip 1 string; hostname 2 string; ipMode 3 string",
    "Pod": "metadata 1 ObjectMeta; spec 2 PodSpec; status 3 PodStatus",
    "PodStatus": "phase 1 string; message 3 string; reason 4 string; hostIP 5 string; podIP 6 string",
    "PodTemplateSpec": "metadata 1 ObjectMeta; spec 2 PodSpec",
    "PodSpec": """containers 2 Container list; restartPolicy 3 string;
        terminationGracePeriodSeconds 4 int64 opt; activeDeadlineSeconds 5 int64 opt; dnsPolicy 6 string;
        nodeSelector 7 string map; serviceAccountName 8 string; serviceAccount 9 string; nodeName 10 string;
        hostNetwork 11 bool; hostPID 12 bool; hostIPC 13 bool;
        imagePullSecrets 15 LocalObjectReference list; hostname 16 string; subdomain 17 string;
        schedulerName 19 string; initContainers 20 Container list; automountServiceAccountToken 21 bool opt;
        tolerations 22 Toleration list; priorityClassName 24 string; priority 25 int32 opt;
        shareProcessNamespace 27 bool opt; runtimeClassName 29 string; enableServiceLinks 30 bool opt;
        preemptionPolicy 31 string; setHostnameAsFQDN 35 bool opt; hostUsers 37 bool opt""",
    "Container": """name 1 string; image 2 string; command 3 string list; args 4 string list; workingDir 5 string;
        ports 6 ContainerPort list; env 7 EnvVar list; resources 8 ResourceRequirements;
        volumeMounts 9 VolumeMount list; terminationMessagePath 13 string; imagePullPolicy 14 string;
        stdin 16 bool; stdinOnce 17 bool; tty 18 bool;
        terminationMessagePolicy 20 string; restartPolicy 24 string""",
    "ContainerPort": "name 1 string; hostPort 2 int32; containerPort 3 int32; protocol 4 string; hostIP 5 string",
    "EnvVar": "name 1 string; value 2 string",
    "ResourceRequirements": "limits 1 quantity map; requests 2 quantity map",
    "VolumeMount": "name 1 string; readOnly 2 bool; mountPath 3 string; subPath 4 string",
    "Toleration": "key 1 string; operator 2 string; value 3 string; effect 4 string; tolerationSeconds 5 int64 opt",
    # --- apps/v1, batch/v1 -----------------------------------------------------------------
    "Deployment": "metadata 1 ObjectMeta; spec 2 DeploymentSpec; status 3 DeploymentStatus",
    "DeploymentSpec": """replicas 1 int32 opt; selector 2 LabelSelector; template 3 PodTemplateSpec;
        strategy 4 DeploymentStrategy; minReadySeconds 5 int32; revisionHistoryLimit 6 int32 opt; paused 7 bool;
        progressDeadlineSeconds 9 int32 opt""",
    "DeploymentStrategy": "type 1 string; rollingUpdate 2 RollingUpdateDeployment",
    "RollingUpdateDeployment": "maxUnavailable 1 intstr; maxSurge 2 intstr",
    "DeploymentStatus": """observedGeneration 1 int64; replicas 2 int32; updatedReplicas 3 int32;
        availableReplicas 4 int32; unavailableReplicas 5 int32; conditions 6 Condition list; readyReplicas 7 int32;
        collisionCount 8 int32; terminatingReplicas 9 int32""",
    "Job": "metadata 1 ObjectMeta; spec 2 JobSpec; status 3 JobStatus",
    "JobSpec": """parallelism 1 int32 opt; completions 2 int32 opt; activeDeadlineSeconds 3 int64 opt;
        selector 4 LabelSelector; manualSelector 5 bool opt; template 6 PodTemplateSpec; backoffLimit 7 int32 opt;
        ttlSecondsAfterFinished 8 int32 opt; completionMode 9 string; suspend 10 bool opt;
        backoffLimitPerIndex 12 int32 opt; maxFailedIndexes 13 int32 opt;
        podReplacementPolicy 14 string; managedBy 15 string""",
    "JobStatus": """conditions 1 Condition list; startTime 2 time; completionTime 3 time; active 4 int32;
        succeeded 5 int32; failed 6 int32; completedIndexes 7 string; ready 9 int32; terminating 11 int32""",
    "CronJob": "metadata 1 ObjectMeta; spec 2 CronJobSpec; status 3 CronJobStatus",
    "CronJobSpec": """schedule 1 string; startingDeadlineSeconds 2 int64 opt; concurrencyPolicy 3 string;
        suspend 4 bool opt; jobTemplate 5 JobTemplateSpec;
        successfulJobsHistoryLimit 6 int32 opt; failedJobsHistoryLimit 7 int32 opt;
        timeZone 8 string""",
    "JobTemplateSpec": "metadata 1 ObjectMeta; spec 2 JobSpec",
    "CronJobStatus": "active 1 ObjectReference list; lastScheduleTime 4 time; lastSuccessfulTime 5 time",
    "Ingress": "metadata 1 ObjectMeta; spec 2 IngressSpec; status 3 IngressStatus",
    "IngressStatus": "loadBalancer 1 LoadBalancerStatus",
    "IngressSpec": """defaultBackend 1 IngressBackend; tls 2 IngressTLS list; rules 3 IngressRule list;
        ingressClassName 4 string""",
    "IngressTLS": "hosts 1 string list; secretName 2 string",
    "IngressRule": "host 1 string; ingressRuleValue 2 IngressRuleValue inline",
    "IngressRuleValue": "http 1 HTTPIngressRuleValue",
    "HTTPIngressRuleValue": "paths 1 HTTPIngressPath list",
    "HTTPIngressPath": "path 1 string; backend 2 IngressBackend; pathType 3 string",
    "IngressBackend": "service 4 IngressServiceBackend",
    "IngressServiceBackend": "name 1 string; port 2 ServiceBackendPort",
    "ServiceBackendPort": "name 1 string; number 2 int32",
    # --- autoscaling/v2 -------------------------------------------------------------------
    "HorizontalPodAutoscaler": """metadata 1 ObjectMeta; spec 2 HorizontalPodAutoscalerSpec;
        status 3 HorizontalPodAutoscalerStatus""",
    "HorizontalPodAutoscalerSpec": """scaleTargetRef 1 CrossVersionObjectReference; minReplicas 2 int32 opt;
        maxReplicas 3 int32; metrics 4 MetricSpec list; behavior 5 HorizontalPodAutoscalerBehavior""",
    "CrossVersionObjectReference": "kind 1 string; name 2 string; apiVersion 3 string",
    "MetricSpec": "type 1 string; resource 4 ResourceMetricSource",
    "ResourceMetricSource": "name 1 string; target 2 MetricTarget",
    "MetricTarget": "type 1 string; value 2 quantity; averageValue 3 quantity; averageUtilization 4 int32 opt",
    "HorizontalPodAutoscalerBehavior": "scaleUp 1 HPAScalingRules; scaleDown 2 HPAScalingRules",
    "HPAScalingRules": """selectPolicy 1 string; policies 2 HPAScalingPolicy list;
        stabilizationWindowSeconds 3 int32 opt""",
    "HPAScalingPolicy": "type 1 string; value 2 int32; periodSeconds 3 int32",
    "HorizontalPodAutoscalerStatus": """observedGeneration 1 int64 opt; lastScaleTime 2 time; currentReplicas 3 int32;
        desiredReplicas 4 int32; conditions 6 Condition list""",
    # --- policy/v1, rbac/v1 ----------------------------------------------------------------
    "PodDisruptionBudget": "metadata 1 ObjectMeta; spec 2 PodDisruptionBudgetSpec; status 3 PodDisruptionBudgetStatus",
    "PodDisruptionBudgetSpec": """minAvailable 1 intstr; selector 2 LabelSelector; maxUnavailable 3 intstr;
        unhealthyPodEvictionPolicy 4 string""",
    "PodDisruptionBudgetStatus": """observedGeneration 1 int64; disruptedPods 2 time map; disruptionsAllowed 3 int32;
        currentHealthy 4 int32; desiredHealthy 5 int32; expectedPods 6 int32; conditions 7 Condition list""",
    "Eviction": "metadata 1 ObjectMeta; deleteOptions 2 DeleteOptions",
    "DeleteOptions": """gracePeriodSeconds 1 int64 opt; preconditions 2 Preconditions; orphanDependents 3 bool opt;
        propagationPolicy 4 string; dryRun 5 string list;
        ignoreStoreReadErrorWithClusterBreakingPotential 6 bool opt""",
    "Preconditions": "uid 1 string opt; resourceVersion 2 string opt",
    "Role": "metadata 1 ObjectMeta; rules 2 PolicyRule list",
    "ClusterRole": "metadata 1 ObjectMeta; rules 2 PolicyRule list",
    "PolicyRule": """verbs 1 string list; apiGroups 2 string list; resources 3 string list;
        resourceNames 4 string list; nonResourceURLs 5 string list""",
    "RoleBinding": "metadata 1 ObjectMeta; subjects 2 Subject list; roleRef 3 RoleRef",
    "ClusterRoleBinding": "metadata 1 ObjectMeta; subjects 2 Subject list; roleRef 3 RoleRef",
    "Subject": "kind 1 string; apiGroup 2 string; name 3 string; namespace 4 string",
    "RoleRef": "apiGroup 1 string; kind 2 string; name 3 string",
    # --- authorization/v1 ------------------------------------------------------------------
    "SelfSubjectAccessReview": """metadata 1 ObjectMeta; spec 2 SelfSubjectAccessReviewSpec;
        status 3 SubjectAccessReviewStatus""",
    "SelfSubjectAccessReviewSpec": """resourceAttributes 1 ResourceAttributes;
        nonResourceAttributes 2 NonResourceAttributes""",
    "ResourceAttributes": """namespace 1 string; verb 2 string; group 3 string; version 4 string; resource 5 string;
        subresource 6 string; name 7 string""",
    "NonResourceAttributes": "path 1 string; verb 2 string",
    "SubjectAccessReviewStatus": "allowed 1 bool opt; reason 2 string; evaluationError 3 string; denied 4 bool",
    "SelfSubjectRulesReview": """metadata 1 ObjectMeta; spec 2 SelfSubjectRulesReviewSpec;
        status 3 SubjectRulesReviewStatus""",
    "SubjectRulesReviewStatus": """resourceRules 1 ResourceRule list; nonResourceRules 2 NonResourceRule list;
        incomplete 3 bool; evaluationError 4 string""",
    "ResourceRule": """verbs 1 string list; apiGroups 2 string list; resources 3 string list;
        resourceNames 4 string list""",
    "NonResourceRule": "verbs 1 string list; nonResourceURLs 2 string list",
    "SelfSubjectRulesReviewSpec": "namespace 1 string",
}


def _parse(text: str) -> dict[int, Field]:
    table: dict[int, Field] = {}
    for line in text.split(";"):
        name, number, kind, *shape = line.split()
        table[int(number)] = (name, kind, shape[0] if shape else "")
    return table


MESSAGES: dict[str, dict[int, Field]] = {name: _parse(text) for name, text in _TABLES.items()}

# (group, kind) of an envelope's TypeMeta -> the message its `raw` holds. DeleteOptions, a DELETE's
# body, is registered in every group version, as client-go sends it in the resource's own.
ENVELOPE_KINDS: dict[tuple[str, str], str] = {
    (group, kind): kind
    for group, kinds in {
        "": ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Pod"),
        "apps": ("Deployment",),
        "batch": ("Job", "CronJob"),
        "autoscaling": ("HorizontalPodAutoscaler",),
        "networking.k8s.io": ("Ingress",),
        "policy": ("PodDisruptionBudget", "Eviction"),
        "rbac.authorization.k8s.io": ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"),
        "authorization.k8s.io": ("SelfSubjectAccessReview", "SelfSubjectRulesReview"),
        "meta.k8s.io": (),
    }.items()
    for kind in (*kinds, "DeleteOptions")
}
