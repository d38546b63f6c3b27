// The job-file schema: one JobKeySpec per key. Internal to core/; users see it through
// job_keys() and docs/job-file.md.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "fedchain/core/job.hpp"

namespace fedchain {

struct JobKeySpec {
  std::string key;      // "section.name"
  std::string type;     // as shown to users
  std::string allowed;  // range or choices, as shown to users
  std::string doc;
  // Reads `node` into the job; returns what is wrong with the value, or "" when it is fine.
  std::function<std::string(const toml::node& node, Job& job)> read;
  // Writes the key's current value into its section's table (under its short name).
  std::function<void(const Job& job, toml::table& section)> write;
};

const std::vector<JobKeySpec>& job_schema();

}  // namespace fedchain
