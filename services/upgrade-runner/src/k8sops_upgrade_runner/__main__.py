from k8sops_common.service import service_main

from .app import DEFINITION

service_main(DEFINITION)
