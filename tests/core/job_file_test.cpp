#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fedchain/core/job_file.hpp"

namespace fedchain {
namespace {

TEST(JobFile, EmptyFileGivesDefaults) {
  auto job = parse_job("", "empty.toml");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->model.arch, "mlp");
  EXPECT_EQ(job->model.hidden, (std::vector<std::int64_t>{200, 200}));
  EXPECT_EQ(job->data.partition, "iid");
}

TEST(JobFile, ReadsEveryKindOfValue) {
  auto job = parse_job(R"(
[job]
rounds = 7
[train]
lr = 1          # an integer is a valid float
optimizer = "adam"
[data]
normalize = true
[model]
hidden = [64, 32]
)",
                       "j.toml");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->job.rounds, 7);
  EXPECT_DOUBLE_EQ(job->train.lr, 1.0);
  EXPECT_EQ(job->train.optimizer, "adam");
  EXPECT_TRUE(job->data.normalize);
  EXPECT_EQ(job->model.hidden, (std::vector<std::int64_t>{64, 32}));
}

TEST(JobFile, SyntaxErrorNamesFileAndLine) {
  auto job = parse_job("[job]\nrounds = 3\nseed = = 4\n", "bad.toml");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().kind, ErrorKind::kConfig);
  EXPECT_NE(job.error().message.find("bad.toml:3:"), std::string::npos) << job.error().message;
}

TEST(JobFile, UnknownKeyNamesClosestKeyAndLine) {
  auto job = parse_job("[train]\n\nbatchsize = 3\n", "typo.toml");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().kind, ErrorKind::kConfig);
  const auto& m = job.error().message;
  EXPECT_NE(m.find("typo.toml:3:"), std::string::npos) << m;
  EXPECT_NE(m.find("train.batchsize"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'train.batch_size'"), std::string::npos) << m;
}

TEST(JobFile, UnknownSectionIsRejected) {
  auto job = parse_job("[trian]\nlr = 0.1\n", "s.toml");
  ASSERT_FALSE(job);
  EXPECT_NE(job.error().message.find("did you mean 'train.lr'"), std::string::npos)
      << job.error().message;
}

TEST(JobFile, WrongTypeIsRejected) {
  auto job = parse_job("[job]\nrounds = \"ten\"\n", "t.toml");
  ASSERT_FALSE(job);
  const auto& m = job.error().message;
  EXPECT_NE(m.find("t.toml:2:"), std::string::npos) << m;
  EXPECT_NE(m.find("expected an integer, got a string"), std::string::npos) << m;
}

TEST(JobFile, OutOfRangeAndBadChoiceAreRejected) {
  auto low = parse_job("[train]\nlr = 0.0\n", "r.toml");
  ASSERT_FALSE(low);
  EXPECT_NE(low.error().message.find("out of range"), std::string::npos) << low.error().message;
  auto choice = parse_job("[model]\narch = \"resnet\"\n", "c.toml");
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message.find("'resnet' is not one of logreg | mlp | cnn | lenet"),
            std::string::npos)
      << choice.error().message;
  auto momentum = parse_job("[train]\nmomentum = 1.0\n", "m.toml");
  EXPECT_FALSE(momentum);
}

TEST(JobFile, ConsensusFaultsNeedRanksTheVoteAndAtMostF) {
  auto none_listed = parse_job("[faults]\nconsensus = \"equivocate\"\n", "f.toml");
  ASSERT_FALSE(none_listed);
  EXPECT_EQ(none_listed.error().kind, ErrorKind::kConfig);
  EXPECT_NE(none_listed.error().message.find("f.toml: faults.consensus = 'equivocate' but "
                                             "faults.byzantine lists no rank"),
            std::string::npos)
      << none_listed.error().message;
  auto no_vote = parse_job(
      "[faults]\nconsensus = \"silent\"\nbyzantine = [1]\n[consensus]\nprotocol = \"none\"\n",
      "p.toml");
  ASSERT_FALSE(no_vote);
  EXPECT_NE(no_vote.error().message.find("consensus.protocol = 'none'"), std::string::npos)
      << no_vote.error().message;
  const std::string two =
      "[job]\nranks = {}\n[faults]\nconsensus = \"replay\"\nbyzantine = [1, 2]\n";
  auto beyond_f = parse_job(fmt::format(fmt::runtime(two), 6), "b.toml");
  ASSERT_FALSE(beyond_f);
  EXPECT_NE(beyond_f.error().message.find("a committee of 6 tolerates at most f = 1"),
            std::string::npos)
      << beyond_f.error().message;
  EXPECT_TRUE(parse_job(fmt::format(fmt::runtime(two), 7), "b.toml"));
  // Without job.ranks the bound waits for the run, which knows how many ranks started.
  EXPECT_TRUE(parse_job("[faults]\nconsensus = \"replay\"\nbyzantine = [1, 2]\n", "u.toml"));
  Job job;
  job.faults.consensus = "replay";
  job.faults.byzantine = {1, 2};
  EXPECT_FALSE(check_consensus_faults(job, 6));
  EXPECT_TRUE(check_consensus_faults(job, 7));
  // An update attack alone is not bounded by f: only the vote is.
  job.faults.consensus = "none";
  EXPECT_TRUE(check_consensus_faults(job, 4));
}

TEST(JobFile, OverridesApplyAfterTheFileAndAreChecked) {
  auto job = parse_job("[train]\nlr = 0.1\n", "o.toml",
                       {"train.lr=0.25", "model.arch=cnn", "model.hidden=[10]"});
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_DOUBLE_EQ(job->train.lr, 0.25);
  EXPECT_EQ(job->model.arch, "cnn");
  EXPECT_EQ(job->model.hidden, std::vector<std::int64_t>{10});

  auto unknown = parse_job("", "o.toml", {"train.lrr=1"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("did you mean 'train.lr'"), std::string::npos);
  auto bad = parse_job("", "o.toml", {"job.rounds=-1"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--set job.rounds"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parse_job("", "o.toml", {"noequals"}));
}

TEST(JobFile, ResolvedTomlReadsBackToTheSameJob) {
  auto job = parse_job("[job]\nseed = 9\n[model]\narch = \"lenet\"\n", "w.toml");
  ASSERT_TRUE(job);
  const auto text = job_to_toml(*job);
  auto again = parse_job(text, "resolved.toml");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(job_to_toml(*again), text);
  EXPECT_EQ(again->job.seed, 9);
  EXPECT_EQ(again->model.arch, "lenet");
}

// model.layers as docs/job-file.md spells it: arch = "custom" implied, each entry's keys read,
// and the resolved job writes the stack back so that it reads to the same job.
TEST(JobFile, ModelLayersReadAndResolve) {
  auto job = parse_job(R"([model]
layers = [{ type = "conv2d", out = 8, kernel = 3, padding = 1 }, { type = "relu" },
          { type = "maxpool", kernel = 2 }, { type = "groupnorm", groups = 4 },
          { type = "avgpool", kernel = 3, stride = 1 }, { type = "dropout", rate = 0.25 },
          { type = "flatten" }, { type = "dense", out = 10 }]
)",
                       "l.toml");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->model.arch, "custom");
  const auto& layers = job->model.layers;
  ASSERT_EQ(layers.size(), 8u);
  EXPECT_EQ(layers[0].type, "conv2d");
  EXPECT_EQ(layers[0].out, 8);
  EXPECT_EQ(layers[0].kernel, 3);
  EXPECT_EQ(layers[0].padding, 1);
  EXPECT_EQ(layers[0].stride, 0);  // not given: the default
  EXPECT_EQ(layers[3].groups, 4);
  EXPECT_EQ(layers[4].stride, 1);
  EXPECT_DOUBLE_EQ(layers[5].rate, 0.25);
  EXPECT_EQ(layers[7].out, 10);
  const auto text = job_to_toml(*job);
  auto again = parse_job(text, "resolved.toml");
  ASSERT_TRUE(again) << again.error().message << "\n" << text;
  EXPECT_EQ(job_to_toml(*again), text);
  EXPECT_EQ(again->model.arch, "custom");
  ASSERT_EQ(again->model.layers.size(), 8u);
  EXPECT_DOUBLE_EQ(again->model.layers[5].rate, 0.25);
  EXPECT_EQ(again->model.layers[4].stride, 1);
  // A preset job's resolved text has no layers key (resolved jobs of old runs still match).
  auto preset = parse_job("[model]\narch = \"cnn\"\n", "p.toml");
  EXPECT_EQ(job_to_toml(*preset).find("layers"), std::string::npos);
  // --set takes the same TOML, and arch = "custom" beside layers is accepted.
  auto overridden = parse_job("[model]\narch = \"custom\"\n", "o.toml",
                              {"model.layers=[{type=\"flatten\"},{type=\"dense\",out=10}]"});
  ASSERT_TRUE(overridden) << overridden.error().message;
  EXPECT_EQ(overridden->model.layers.size(), 2u);
}

// Bad entries are exit-2 errors naming model.layers, the entry's index and type, and the key.
TEST(JobFile, BadLayersNameTheEntryAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(layers = [{ type = "relu" }, { type = "conv3d", out = 2 }])",
       "model.layers': layer [1] (conv3d): unknown type: expected one of"},
      {R"(layers = [{ type = "conv2d", kernel = 3 }])",
       "model.layers': layer [0] (conv2d): needs key 'out'"},
      {R"(layers = [{ type = "flatten" }, { type = "dense" }])",
       "layer [1] (dense): needs key 'out'"},
      {R"(layers = [{ type = "conv2d", out = 4, kernal = 3 }])",
       "layer [0] (conv2d): unknown key 'kernal'; a conv2d takes out, kernel, stride, padding"},
      {R"(layers = [{ type = "relu", out = 4 }])",
       "layer [0] (relu): unknown key 'out'; a relu takes no other key"},
      {R"(layers = [{ type = "dropout", rate = 1.0 }])",
       "layer [0] (dropout): key 'rate': 1 is outside [0, 1)"},
      {R"(layers = [{ type = "dropout", rate = -0.1 }])", "layer [0] (dropout): key 'rate'"},
      {R"(layers = [{ type = "groupnorm", groups = 0 }])",
       "layer [0] (groupnorm): key 'groups': 0 is out of range"},
      {R"(layers = [{ type = "maxpool", kernel = "2" }])",
       "layer [0] (maxpool): key 'kernel': expected an integer, got a string"},
      {R"(layers = [{ out = 3 }])", "layer [0]: needs key 'type'"},
      {R"(layers = [3])", "layer [0]: expected a table"},
      {R"(layers = [])", "lists no layer"},
      {"arch = \"cnn\"\nlayers = [{ type = \"flatten\" }, { type = \"dense\", out = 10 }]",
       "model.arch = \"cnn\" and model.layers are both given"},
      {"arch = \"mlp\"\nlayers = [{ type = \"flatten\" }, { type = \"dense\", out = 10 }]",
       "model.arch = \"mlp\" and model.layers are both given"},
      {"arch = \"custom\"", "model.arch = \"custom\" needs model.layers"},
  };
  for (const auto& [model, expected] : cases) {
    auto job = parse_job("[model]\n" + model + "\n", "bad-layers.toml");
    ASSERT_FALSE(job) << model;
    EXPECT_EQ(job.error().kind, ErrorKind::kConfig);
    EXPECT_NE(job.error().message.find(expected), std::string::npos) << model << "\n"
                                                                     << job.error().message;
    EXPECT_NE(job.error().message.find("bad-layers.toml"), std::string::npos)
        << job.error().message;
  }
}

TEST(JobFile, MissingFileIsAConfigError) {
  auto job = load_job("/nonexistent/job.toml");
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().kind, ErrorKind::kConfig);
  EXPECT_NE(job.error().message.find("/nonexistent/job.toml"), std::string::npos);
}

// docs/job-file.md must document every key the schema accepts.
TEST(JobFile, DocumentationListsEveryKey) {
  std::ifstream doc(std::filesystem::path(FEDCHAIN_SOURCE_DIR) / "docs" / "job-file.md");
  ASSERT_TRUE(doc) << "docs/job-file.md is missing";
  std::stringstream text;
  text << doc.rdbuf();
  for (const auto& key : job_keys()) {
    EXPECT_NE(text.str().find("`" + key.key + "`"), std::string::npos)
        << "docs/job-file.md does not document `" << key.key << "`";
  }
}

// [privacy]: bad values and combinations are config errors naming the key (docs/privacy.md).
TEST(JobFile, PrivacyRefusesBadValuesNamingTheKey) {
  const auto refused = [](const std::string& toml, const std::string& key) {
    auto job = parse_job(toml, "p.toml");
    ASSERT_FALSE(job) << toml;
    EXPECT_EQ(job.error().kind, ErrorKind::kConfig);
    EXPECT_NE(job.error().message.find(key), std::string::npos) << job.error().message;
  };
  refused("[privacy]\ndp = true\nclip = 0.0\n", "privacy.clip");
  refused("[privacy]\nclip = -1.0\n", "privacy.clip");
  refused("[privacy]\nnoise_multiplier = -0.1\n", "privacy.noise_multiplier");
  refused("[privacy]\ndelta = 0.0\n", "privacy.delta");
  refused("[privacy]\ndelta = 1.0\n", "privacy.delta");
  refused("[privacy]\ndelta = 1.5\n", "privacy.delta");
  refused("[privacy]\ntarget_epsilon = 4.0\n", "privacy.target_epsilon");
  for (const char* rule : {"median", "trimmed_mean", "krum", "multi_krum"}) {
    refused(fmt::format("[privacy]\nsecure_aggregation = true\n[aggregate]\nrule = \"{}\"\n", rule),
            "privacy.secure_aggregation");
    refused(fmt::format("[privacy]\ndp = true\n[aggregate]\nrule = \"{}\"\n", rule), "privacy.dp");
  }
  refused("[privacy]\nsecure_aggregation = true\n[aggregate]\nexchange = \"allgather\"\n",
          "privacy.secure_aggregation");
  refused("[privacy]\nsecure_aggregation = true\n[ledger]\narchive_updates = true\n",
          "ledger.archive_updates");
}

TEST(JobFile, PrivacyAcceptsFedavgOverTheAllreduce) {
  auto job = parse_job(
      "[privacy]\ndp = true\nsecure_aggregation = true\nclip = 0.5\nnoise_multiplier = 0.0\n"
      "delta = 1e-6\ntarget_epsilon = 8.0\n[aggregate]\nexchange = \"allreduce\"\n",
      "ok.toml");
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_TRUE(job->privacy.dp);
  EXPECT_TRUE(job->privacy.secure_aggregation);
  EXPECT_DOUBLE_EQ(job->privacy.clip, 0.5);
  EXPECT_DOUBLE_EQ(job->privacy.delta, 1e-6);
  // DP with archived updates is auditable, and allowed.
  EXPECT_TRUE(parse_job("[privacy]\ndp = true\n[ledger]\narchive_updates = true\n", "a.toml"));
}

}  // namespace
}  // namespace fedchain
