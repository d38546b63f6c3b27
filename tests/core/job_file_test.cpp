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
