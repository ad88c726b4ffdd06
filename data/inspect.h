// `clinfm inspect`: what a prepared data set holds (patients and events per split, vocabulary,
// top codes, sequence lengths, value-bin coverage), or one patient's decoded timeline shown
// with its pseudonymous key only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace clinfm {

nlohmann::json inspect_dataset(const std::string& dir, int top_codes = 20);
std::string format_inspection(const nlohmann::json& summary);
// InputError when no patient has this key.
std::string decode_patient(const std::string& dir, const std::string& key_hex);

}  // namespace clinfm
