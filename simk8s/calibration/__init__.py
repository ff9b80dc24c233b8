"""Published experiments replayed with the model, the fits of its parameters, the report.

Nothing in simk8s.proxy or simk8s.dataplane imports this package: the fitted parameter
files they read (simk8s/proxy/cost_params.yaml, simk8s/dataplane/latency_params.yaml) are
model inputs, and the fits here only reproduce them.

* sync_cost: kube-proxy sync duration against the published points; refits cost_params.yaml.
* first_packet: first-packet latency against the nftables blog chart and Tigera's
  comparison; refits latency_params.yaml.
* kep3453 (with loadtest, cl2): the KEP-3453 5000-node NPL figure, fleet-level.
* validation (with validation_report, tutorial_claims): every published point with its
  role, fit or prediction, and the tutorial's claims: docs/validation.md
  (`simk8s calibrate --write`).
* report: all of them side by side (`simk8s calibrate`); `--fit` refits the sync-cost prices.
* host (with host_rulesets, host_timing, host_fit): this host's tool prices, timed with the
  real iptables and nft, as a machine profile (`simk8s calibrate --host`,
  docs/host-calibration.md).
* host_dataplane (with host_dataplane_rules, host_dataplane_fit): first-packet latency
  through real iptables and nft rules between two network namespaces, fitted into the
  profile's `dataplane` section (`simk8s calibrate --dataplane`).
"""
