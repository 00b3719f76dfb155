#include "golden_data.hpp"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace zdm::golden {

nlohmann::json load(const std::string& name) {
  const char* dir = std::getenv("ZDM_GOLDEN_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "ZDM_GOLDEN_DIR is not set; run the golden tests through ctest";
    return nullptr;
  }
  std::string path = std::string(dir) + "/" + name;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "golden file " << path << " is missing; its gen_*.py script did not run";
    return nullptr;
  }
  nlohmann::json data = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (data.is_discarded()) ADD_FAILURE() << "golden file " << path << " is not valid JSON";
  return data;
}

}  // namespace zdm::golden
