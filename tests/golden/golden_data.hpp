#pragma once
// Loads a JSON file that a gen_<area>.py script wrote from the DataStax Python driver.

#include <string>

#include <nlohmann/json.hpp>

namespace zdm::golden {

// Reads ${ZDM_GOLDEN_DIR}/<name>. Fails the calling test (ADD_FAILURE) and returns null when the
// variable is unset or the file is missing, so a missing generator can never pass silently.
nlohmann::json load(const std::string& name);

}  // namespace zdm::golden
