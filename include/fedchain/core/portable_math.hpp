// Transcendental functions that give the same bits on every IEEE-754 machine: each is
// argument reduction and a fixed polynomial, series or continued fraction evaluated with
// +, -, *, / and sqrt only (and exact exponent arithmetic), in a fixed order (the build keeps
// -ffp-contract=off), never through libm, whose last bits differ between versions. The
// seeded draws (random.hpp) take their log and exp from here; the privacy accountant
// (ledger/dp_accountant.hpp) computes the epsilon the chain state votes on with all of them.
// Each is within a few ulp of the exact value (tests/core/random_test.cpp and
// portable_math_test.cpp hold them against libm over wide ranges).
#pragma once

#include <cstdint>

namespace fedchain {

// Natural log and exp from range reduction plus a fixed-length series. portable_log needs
// x > 0 (NaN otherwise); portable_exp returns 0 below -745 and +inf above 709. Changing
// either changes every partition (docs/data.md) and every privacy chain's state hashes.
double portable_log(double x);
double portable_exp(double x);
// log(1 + x), accurate near 0; -inf at -1.
double portable_log1p(double x);
// exp(x) - 1, accurate near 0.
double portable_expm1(double x);
// log(erfc(x)) for every x, including where erfc itself underflows (x > 26.5).
double portable_log_erfc(double x);

// log|C(n, k)| = log|n (n - 1) ... (n - k + 1) / k!| for k = 0, 1, 2, ... in turn, each
// from the last (C(n, k) = C(n, k - 1) (n - k + 1) / k), for real n: the accountant's sums
// walk k one at a time. -inf once the coefficient is 0 (integer n, k > n).
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

}  // namespace fedchain
