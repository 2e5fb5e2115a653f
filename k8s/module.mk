# k8s/: a small Kubernetes API client and the driver's Kubernetes-side features
# (metadata from the Node, start-up taint removal, pre-stop hook).
K8S_SRCS += k8s/config.c k8s/yaml.c k8s/kubeconfig.c k8s/client.c k8s/util.c k8s/node_meta.c k8s/taint.c k8s/prestop.c
# libcurl: HTTPS with client certificates and streamed watches. jansson: JSON.
MODULE_PKGS_k8s := libcurl jansson
