#pragma once
// Clustering keys (compound, each component ordered by its type and ASC/DESC), prefixes and
// slices of clustering keys.

#include <cstdint>
#include <vector>

#include "common/bytes.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

// The serialized values of the clustering columns, in key order. Rows always have a full key;
// bounds may hold a prefix.
using Clustering = std::vector<Bytes>;

struct ClusteringBound {
  Clustering prefix;  // empty: unbounded on this side
  bool inclusive = true;
};

// Rows whose key lies between start and end, both in clustering order (not query order): an
// equality on a prefix p is {p inclusive, p inclusive}; an IN list is one slice per prefix.
struct ClusteringSlice {
  ClusteringBound start;
  ClusteringBound end;

  static ClusteringSlice all() { return {}; }
  static ClusteringSlice equal(Clustering prefix) {
    return {{prefix, true}, {std::move(prefix), true}};
  }
};

class ClusteringComparator {
 public:
  ClusteringComparator() = default;
  explicit ClusteringComparator(const TableSchema& schema);

  size_t size() const { return types_.size(); }
  // Compares the first min(|a|, |b|) components; then the shorter key first.
  int compare(const Clustering& a, const Clustering& b) const;
  // Compares the first n components only.
  int compare_prefix(const Clustering& a, const Clustering& b, size_t n) const;
  int compare_component(size_t i, ByteView a, ByteView b) const;

  bool after_start(const Clustering& key, const ClusteringBound& start) const;
  bool before_end(const Clustering& key, const ClusteringBound& end) const;
  bool contains(const ClusteringSlice& slice, const Clustering& key) const {
    return after_start(key, slice.start) && before_end(key, slice.end);
  }

 private:
  std::vector<DataType> types_;
  std::vector<ClusteringOrder> orders_;
};

}  // namespace zdm::node
