// A small real signed chain shared by the fuzz targets' seed corpora.
#pragma once

#include "test_chain.hpp"

namespace fedchain::fuzz {

const ledger::testing::TestChain& seed_chain();

}  // namespace fedchain::fuzz
