// Run configuration: one JSON document with sections data, preprocess, model, train, evaluate.
// Every key has its default in one place (config_defaults() in config.cpp, the reference values of
// docs/model.md §5). A user file is merged onto the defaults: an unknown key is an error naming its path
// ("model.decoder.hiden: unknown key"), and a value of the wrong JSON type is an error naming the expected type.
// `--set section.key=value` overrides apply after the file (value parsed as JSON, else taken as a string).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpo::io {

using json = nlohmann::json;

json config_defaults();
// Reads `path` (may be "" for defaults only), merges onto the defaults, applies overrides ("a.b=c"), validates.
json config_load(const std::string& path, const std::vector<std::string>& overrides = {});
// Merges `user` onto `base` in place; `where` names the source for error messages.
void config_merge(json& base, const json& user, const std::string& where, const std::string& prefix = "");
void config_apply_override(json& cfg, const std::string& assignment);  // "train.lr=1e-3"
// Checks the enumerated values and ranges (model.type, fractions, ...); throws naming the key.
void config_validate(const json& cfg);
// The scalar keys config_validate() checks against its table (kind and range); for tests and docs.
std::vector<std::string> config_validated_keys();
// Writes the resolved config (pretty JSON) atomically.
void config_save(const json& cfg, const std::string& path);

}  // namespace gpo::io
