// The memory a job's rank needs, and the refusal that names the numbers (train/memory.hpp).
#include "fedchain/train/memory.hpp"

#include <gtest/gtest.h>

#include "fedchain/train/job_setup.hpp"

namespace fedchain::train {
namespace {

MemoryNeeds mlp_needs(std::int64_t batch) {
  MemoryNeeds needs;
  needs.model.arch = "mlp";
  needs.model.hidden = {16};
  needs.train.batch_size = 1 << 20;
  needs.batch = batch;
  needs.train_samples = 2000;
  needs.test_samples = 200;
  needs.exchange_bytes_per_parameter = 16;
  return needs;
}

TEST(BatchRoom, IsTheRealBatchNotTheConfiguredOne) {
  EXPECT_EQ(batch_room(1 << 20, 1000), 1000);
  EXPECT_EQ(batch_room(32, 1000), 32);
  EXPECT_EQ(batch_room(32, 0), 1);  // verify builds the model from the data's shape alone
}

TEST(MemoryEstimate, GrowsWithTheBatchOnlyInActivations) {
  auto small = estimate_rank_memory(mlp_needs(1000));
  auto large = estimate_rank_memory(mlp_needs(2000));
  ASSERT_TRUE(small && large);
  EXPECT_EQ(small->model_bytes, large->model_bytes);
  EXPECT_EQ(small->data_bytes, large->data_bytes);
  EXPECT_EQ(large->activation_bytes, 2 * small->activation_bytes);
  // 784 -> 16 -> 10: 12,730 parameters.
  EXPECT_EQ(small->model_bytes % 12730, 0);
  // At least the input twice (backend and host) and grad_a, grad_b of 784 floats a sample.
  EXPECT_GE(small->activation_bytes, 1000 * 4 * 784 * 4);
}

TEST(CheckMemory, RefusesNamingBatchSizeAndTheNumbers) {
  const MemoryNeeds needs = mlp_needs(1000);
  auto estimate = estimate_rank_memory(needs);
  ASSERT_TRUE(estimate);
  const std::int64_t need = estimate->total();
  EXPECT_TRUE(check_memory(*estimate, needs, {need * 2, std::nullopt}, 2));
  EXPECT_TRUE(check_memory(*estimate, needs, {std::nullopt, std::nullopt}, 4));
  const Status shared = check_memory(*estimate, needs, {need * 2, std::nullopt}, 3);
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().kind, ErrorKind::kConfig);
  EXPECT_NE(shared.error().message.find("train.batch_size = 1048576"), std::string::npos)
      << shared.error().message;
  EXPECT_NE(shared.error().message.find("for its 3 rank(s)"), std::string::npos);
  const Status mapped = check_memory(*estimate, needs, {need * 8, need - 1}, 1);
  ASSERT_FALSE(mapped);
  EXPECT_NE(mapped.error().message.find("ulimit -v"), std::string::npos);
}

}  // namespace
}  // namespace fedchain::train
