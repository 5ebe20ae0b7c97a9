# shellcheck shell=bash
# Certificates of the local cluster (openssl), made once per .run/cluster. Source it from up.sh.
# One CA signs every identity: system:masters for the admin (and the host processes that act for the
# cluster: KEDA, CoreDNS, Prometheus), the control-plane components, the node and kube-proxy.
# A second CA signs the aggregation front proxy (the apiserver calling KEDA's metrics adapter).

PKI="$CLUSTER_RUN/pki"

# pki_issue NAME CN [O] [SANS] -- NAME.key + NAME.crt signed by the cluster CA (client+server usage).
pki_issue() {
  local name="$1" cn="$2" org="${3:-}" sans="${4:-}" ca="${5:-ca}" subject ext
  [[ -s "$PKI/$name.crt" ]] && return 0
  subject="/CN=$cn"
  [[ -n "$org" ]] && subject="/O=$org$subject"
  ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n "$sans" ]] && echo "subjectAltName=$sans"
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

pki_ca() {
  local name="$1" cn="$2"
  [[ -s "$PKI/$name.crt" ]] && return 0
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "/CN=$cn" -days 365 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$name.crt" 2>/dev/null
}

# pki_kubeconfig NAME -- NAME.kubeconfig for the identity NAME.crt/key against the apiserver.
pki_kubeconfig() {
  local name="$1"
  cat >"$PKI/$name.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: conveyor
    cluster: { server: "https://$BRIDGE_IP:$APISERVER_PORT", certificate-authority: "$PKI/ca.crt" }
users:
  - name: $name
    user: { client-certificate: "$PKI/$name.crt", client-key: "$PKI/$name.key" }
contexts:
  - name: conveyor
    context: { cluster: conveyor, user: $name }
current-context: conveyor
KUBECONFIG
}

pki_all() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  pki_ca ca conveyor-cluster-ca
  pki_ca front-proxy-ca conveyor-front-proxy-ca
  pki_issue apiserver kube-apiserver "" \
    "IP:$BRIDGE_IP,IP:$KUBERNETES_SVC_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
  pki_issue apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  pki_issue front-proxy-client front-proxy-client "" "" front-proxy-ca
  pki_issue admin conveyor-admin system:masters
  pki_issue controller-manager system:kube-controller-manager
  pki_issue scheduler system:kube-scheduler
  pki_issue kubelet "system:node:$NODE_NAME" system:nodes "IP:$BRIDGE_IP,DNS:$NODE_NAME"
  pki_issue kube-proxy system:kube-proxy system:node-proxier
  pki_issue keda "keda-operator" "" \
    "IP:$BRIDGE_IP,IP:127.0.0.1,DNS:localhost,DNS:keda-operator.keda.svc,DNS:keda-operator.keda.svc.$CLUSTER_DOMAIN,DNS:keda-metrics-apiserver.keda.svc,DNS:keda-admission-webhooks.keda.svc"
  [[ -s "$PKI/service-account.key" ]] || openssl genrsa -out "$PKI/service-account.key" 2048 2>/dev/null
  [[ -s "$PKI/service-account.pub" ]] || openssl rsa -in "$PKI/service-account.key" -pubout -out "$PKI/service-account.pub" 2>/dev/null
  local name
  for name in admin controller-manager scheduler kubelet kube-proxy; do pki_kubeconfig "$name"; done
  # KEDA reads ca.crt/tls.crt/tls.key from one folder (its gRPC mTLS and webhook server).
  mkdir -p "$PKI/keda-certs"
  cp "$PKI/ca.crt" "$PKI/keda-certs/ca.crt"
  cp "$PKI/keda.crt" "$PKI/keda-certs/tls.crt"
  cp "$PKI/keda.key" "$PKI/keda-certs/tls.key"
}
