// Transcendental functions that give the same bits on every IEEE-754 machine: each is
// argument reduction and a fixed polynomial, series or continued fraction evaluated with
// +, -, *, / and sqrt only, in a fixed order (the build keeps -ffp-contract=off), never
// through libm, whose last bits differ between versions. The privacy accountant
// (dp_accountant.hpp) computes the epsilon the chain state votes on with them.
// Accuracy: within about 1e-15 relative of the exact value (tests/ledger/portable_math_test.cpp
// holds each against libm over wide ranges).
#pragma once

#include <cstdint>

namespace fedchain::ledger::portable {

double exp(double x);
double log(double x);       // -inf at 0, NaN below
double log1p(double x);     // log(1 + x), accurate near 0
double expm1(double x);     // exp(x) - 1, accurate near 0
double log_erfc(double x);  // log(erfc(x)) for every finite x, where erfc itself underflows too

// log|C(n, k)| = log|n (n - 1) ... (n - k + 1) / k!| for k = 0, 1, 2, ... in turn, each
// from the last (C(n, k) = C(n, k - 1) (n - k + 1) / k), for real n: the sums of the
// accountant walk k one at a time. -inf once the coefficient is 0 (integer n, k > n).
class LogBinomials {
 public:
  explicit LogBinomials(double n) : n_(n) {}
  double value() const { return sum_ + compensation_; }  // log|C(n, k)|
  std::uint32_t k() const { return k_; }
  void next();  // k + 1

 private:
  double n_;
  std::uint32_t k_ = 0;
  double sum_ = 0;  // log C(n, 0) = log 1, in two parts: the sum and its lost low bits
  double compensation_ = 0;
};

}  // namespace fedchain::ledger::portable
