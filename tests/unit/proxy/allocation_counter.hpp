#pragma once
// Heap allocations made by the calling thread so far (the counting operator new of this test
// binary is in forward_decision_test.cpp). Tests compare it before and after the code under test.

#include <cstddef>

namespace zdm::test {
size_t allocations_on_this_thread();
}  // namespace zdm::test
