#include "node/storage/clustering.hpp"

#include <algorithm>

#include "protocol/value_compare.hpp"

namespace zdm::node {

ClusteringComparator::ClusteringComparator(const TableSchema& schema) {
  for (const auto* c : schema.clustering()) {
    types_.push_back(c->type);
    orders_.push_back(c->order);
  }
}

int ClusteringComparator::compare_component(size_t i, ByteView a, ByteView b) const {
  if (i >= types_.size()) return protocol::compare_unsigned_bytes(a, b);
  const int c = protocol::compare_values(types_[i], a, b);
  return orders_[i] == ClusteringOrder::Desc ? -c : c;
}

int ClusteringComparator::compare_prefix(const Clustering& a, const Clustering& b, size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    const int c = compare_component(i, a[i], b[i]);
    if (c != 0) return c;
  }
  return 0;
}

int ClusteringComparator::compare(const Clustering& a, const Clustering& b) const {
  const size_t n = std::min(a.size(), b.size());
  const int c = compare_prefix(a, b, n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

bool ClusteringComparator::after_start(const Clustering& key, const ClusteringBound& start) const {
  if (start.prefix.empty()) return true;
  const size_t n = std::min(start.prefix.size(), key.size());
  const int c = compare_prefix(key, start.prefix, n);
  return c > 0 || (c == 0 && start.inclusive);
}

bool ClusteringComparator::before_end(const Clustering& key, const ClusteringBound& end) const {
  if (end.prefix.empty()) return true;
  const size_t n = std::min(end.prefix.size(), key.size());
  const int c = compare_prefix(key, end.prefix, n);
  return c < 0 || (c == 0 && end.inclusive);
}

}  // namespace zdm::node
