// Runs every Backend op on a backend and compares it with the double-precision CPU
// reference (the templates in src/train/cpu_ops.hpp) by normalised error:
// max |out - ref| / max(max |ref|, 1) must stay under a float-sized tolerance. The CPU
// backend's test calls it; the CUDA backend's test calls it with its own backend, over
// the same odd shapes (as ggml's test-backend-ops does).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cpu_ops.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::train::testing {

inline std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(double(engine() >> 11) * 0x1.0p-52 - 1.0);
  return v;
}

inline std::vector<double> widen(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Holds backend buffers for one op call: put() uploads host data, get() downloads.
class DeviceArrays {
 public:
  explicit DeviceArrays(Backend& backend) : backend_(backend) {}
  float* put(const std::vector<float>& host) {
    buffers_.push_back(std::move(backend_.allocate(host.size() * sizeof(float)).value()));
    backend_.upload(buffers_.back(), host.data(), host.size() * sizeof(float));
    return buffers_.back().f32();
  }
  float* zeros(std::size_t n) { return put(std::vector<float>(n, 0.0f)); }
  const std::int32_t* put_labels(const std::vector<std::int32_t>& host) {
    buffers_.push_back(std::move(backend_.allocate(host.size() * sizeof(std::int32_t)).value()));
    backend_.upload(buffers_.back(), host.data(), host.size() * sizeof(std::int32_t));
    return buffers_.back().i32();
  }
  std::vector<float> get(const float* device, std::size_t n) {
    backend_.synchronize();
    for (const Buffer& buffer : buffers_) {
      if (buffer.f32() == device) {
        std::vector<float> host(n);
        backend_.download(host.data(), buffer, n * sizeof(float));
        return host;
      }
    }
    ADD_FAILURE() << "not a buffer of this op";
    return {};
  }

 private:
  Backend& backend_;
  std::vector<Buffer> buffers_;
};

inline void expect_close(const std::string& what, const std::vector<float>& out,
                         const std::vector<double>& ref, double tolerance = 1e-5) {
  ASSERT_EQ(out.size(), ref.size()) << what;
  double scale = 1.0, worst = 0.0;
  for (const double r : ref) scale = std::max(scale, std::abs(r));
  for (std::size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - ref[i]));
  EXPECT_LE(worst / scale, tolerance) << what << ": normalised error " << worst / scale;
}

inline void check_dense(Backend& backend, const DenseShape& s) {
  const auto x = random_floats(std::size_t(s.batch * s.in), 1);
  const auto w = random_floats(std::size_t(s.out * s.in), 2);
  const auto b = random_floats(std::size_t(s.out), 3);
  const auto dy = random_floats(std::size_t(s.batch * s.out), 4);
  std::vector<double> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
  const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
  cpu::dense_forward(s, xd.data(), wd.data(), bd.data(), y.data());
  cpu::dense_backward(s, xd.data(), wd.data(), dyd.data(), dx.data(), dw.data(), db.data());

  DeviceArrays d(backend);
  float *dx_out = d.zeros(x.size()), *dw_out = d.zeros(w.size()), *db_out = d.zeros(b.size());
  float* y_out = d.zeros(y.size());
  const float *x_in = d.put(x), *w_in = d.put(w), *b_in = d.put(b), *dy_in = d.put(dy);
  backend.dense_forward(s, x_in, w_in, b_in, y_out);
  backend.dense_backward(s, x_in, w_in, dy_in, dx_out, dw_out, db_out);
  const std::string shape = "dense " + std::to_string(s.batch) + "x" + std::to_string(s.in) + "->" +
                            std::to_string(s.out);
  expect_close(shape + " y", d.get(y_out, y.size()), y);
  expect_close(shape + " dx", d.get(dx_out, dx.size()), dx);
  expect_close(shape + " dw", d.get(dw_out, dw.size()), dw);
  expect_close(shape + " db", d.get(db_out, db.size()), db);
}

inline void check_conv2d(Backend& backend, const ConvShape& s) {
  const auto in_size = std::size_t(s.batch * s.height * s.width * s.in_channels);
  const auto out_size = std::size_t(s.batch * s.out_height() * s.out_width() * s.out_channels);
  const auto x = random_floats(in_size, 5);
  const auto w = random_floats(std::size_t(s.out_channels * s.patch_size()), 6);
  const auto b = random_floats(std::size_t(s.out_channels), 7);
  const auto dy = random_floats(out_size, 8);
  std::vector<double> y(out_size), workspace(std::size_t(cpu::conv2d_workspace(s))), dx(in_size),
      dw(w.size()), db(b.size());
  const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
  cpu::conv2d_forward(s, xd.data(), wd.data(), bd.data(), y.data(), workspace.data());
  cpu::conv2d_backward(s, xd.data(), wd.data(), dyd.data(), dx.data(), dw.data(), db.data(),
                       workspace.data());

  DeviceArrays d(backend);
  float *y_out = d.zeros(out_size), *work = d.zeros(std::size_t(backend.conv2d_workspace(s))),
        *dx_out = d.zeros(in_size), *dw_out = d.zeros(w.size()), *db_out = d.zeros(b.size());
  const float *x_in = d.put(x), *w_in = d.put(w), *b_in = d.put(b), *dy_in = d.put(dy);
  backend.conv2d_forward(s, x_in, w_in, b_in, y_out, work);
  backend.conv2d_backward(s, x_in, w_in, dy_in, dx_out, dw_out, db_out, work);
  const std::string shape = "conv2d " + std::to_string(s.height) + "x" + std::to_string(s.width) +
                            "x" + std::to_string(s.in_channels) + " k" + std::to_string(s.kernel) +
                            " s" + std::to_string(s.stride) + " p" + std::to_string(s.padding);
  expect_close(shape + " y", d.get(y_out, out_size), y);
  expect_close(shape + " dx", d.get(dx_out, in_size), dx);
  expect_close(shape + " dw", d.get(dw_out, w.size()), dw);
  expect_close(shape + " db", d.get(db_out, b.size()), db);
}

inline void check_pool_relu_softmax(Backend& backend, const PoolShape& s, std::int64_t classes) {
  const auto in_size = std::size_t(s.batch * s.height * s.width * s.channels);
  const auto out_size = std::size_t(s.batch * s.out_height() * s.out_width() * s.channels);
  const auto x = random_floats(in_size, 9);
  const auto dy = random_floats(out_size, 10);
  std::vector<double> pooled(out_size), pool_dx(in_size), relu_y(in_size), relu_dx(in_size);
  const auto xd = widen(x), dyd = widen(dy);
  cpu::maxpool_forward(s, xd.data(), pooled.data());
  cpu::maxpool_backward(s, xd.data(), dyd.data(), pool_dx.data());
  cpu::relu_forward(std::int64_t(in_size), xd.data(), relu_y.data());
  cpu::relu_backward(std::int64_t(in_size), relu_y.data(), xd.data(), relu_dx.data());

  const std::int64_t batch = s.batch;
  auto logits = random_floats(std::size_t(batch * classes), 11);
  for (float& l : logits) l *= 30.0f;  // wide logits exercise the max subtraction
  std::vector<std::int32_t> labels(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = std::int32_t(i * 7 % classes);
  std::vector<double> probs(logits.size()), losses(labels.size()), dlogits(logits.size());
  const auto logits_d = widen(logits);
  cpu::softmax_xent_forward(batch, classes, logits_d.data(), labels.data(), probs.data(),
                            losses.data());
  cpu::softmax_xent_backward(batch, classes, probs.data(), labels.data(), dlogits.data());

  DeviceArrays d(backend);
  const float *x_in = d.put(x), *dy_in = d.put(dy), *logits_in = d.put(logits);
  const std::int32_t* labels_in = d.put_labels(labels);
  float *pooled_out = d.zeros(out_size), *pool_dx_out = d.zeros(in_size),
        *relu_out = d.zeros(in_size), *relu_dx_out = d.zeros(in_size),
        *probs_out = d.zeros(probs.size()), *losses_out = d.zeros(losses.size()),
        *dlogits_out = d.zeros(dlogits.size());
  backend.maxpool_forward(s, x_in, pooled_out);
  backend.maxpool_backward(s, x_in, dy_in, pool_dx_out);
  backend.relu_forward(std::int64_t(in_size), x_in, relu_out);
  backend.relu_backward(std::int64_t(in_size), relu_out, x_in, relu_dx_out);
  backend.softmax_xent_forward(batch, classes, logits_in, labels_in, probs_out, losses_out);
  backend.softmax_xent_backward(batch, classes, probs_out, labels_in, dlogits_out);
  expect_close("maxpool y", d.get(pooled_out, out_size), pooled);
  expect_close("maxpool dx", d.get(pool_dx_out, in_size), pool_dx);
  expect_close("relu y", d.get(relu_out, in_size), relu_y);
  expect_close("relu dx", d.get(relu_dx_out, in_size), relu_dx);
  expect_close("softmax probs", d.get(probs_out, probs.size()), probs);
  expect_close("softmax losses", d.get(losses_out, losses.size()), losses);
  expect_close("softmax dlogits", d.get(dlogits_out, dlogits.size()), dlogits);
}

inline std::string pool_name(const char* op, const PoolShape& s) {
  return std::string(op) + " " + std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
         std::to_string(s.channels) + " k" + std::to_string(s.kernel) + " s" +
         std::to_string(s.stride);
}

// Max- and average-pooling of any window and stride against the double reference.
inline void check_pools(Backend& backend, const PoolShape& s) {
  const auto in_size = std::size_t(s.batch * s.height * s.width * s.channels);
  const auto out_size = std::size_t(s.batch * s.out_height() * s.out_width() * s.channels);
  const auto x = random_floats(in_size, 15);
  const auto dy = random_floats(out_size, 16);
  const auto xd = widen(x), dyd = widen(dy);
  std::vector<double> max_y(out_size), max_dx(in_size), avg_y(out_size), avg_dx(in_size);
  cpu::maxpool_forward(s, xd.data(), max_y.data());
  cpu::maxpool_backward(s, xd.data(), dyd.data(), max_dx.data());
  cpu::avgpool_forward(s, xd.data(), avg_y.data());
  cpu::avgpool_backward(s, dyd.data(), avg_dx.data());

  DeviceArrays d(backend);
  const float *x_in = d.put(x), *dy_in = d.put(dy);
  float *max_y_out = d.zeros(out_size), *avg_y_out = d.zeros(out_size);
  float *max_dx_out = d.put(std::vector<float>(in_size, std::nanf(""))),
        *avg_dx_out = d.put(std::vector<float>(in_size, std::nanf("")));
  backend.maxpool_forward(s, x_in, max_y_out);
  backend.maxpool_backward(s, x_in, dy_in, max_dx_out);
  backend.avgpool_forward(s, x_in, avg_y_out);
  backend.avgpool_backward(s, dy_in, avg_dx_out);
  expect_close(pool_name("maxpool y", s), d.get(max_y_out, out_size), max_y);
  expect_close(pool_name("maxpool dx", s), d.get(max_dx_out, in_size), max_dx);
  expect_close(pool_name("avgpool y", s), d.get(avg_y_out, out_size), avg_y);
  expect_close(pool_name("avgpool dx", s), d.get(avg_dx_out, in_size), avg_dx);
}

// Group norm forward and backward (with and without dx) against the double reference.
inline void check_groupnorm(Backend& backend, const GroupNormShape& s) {
  const auto size = std::size_t(s.batch * s.pixels * s.channels);
  const auto channels = std::size_t(s.channels);
  auto x = random_floats(size, 17);
  for (float& v : x) v = 3.0f * v + 0.5f;  // off-centre, wider than 1
  const auto weight = random_floats(channels, 18), bias = random_floats(channels, 19);
  const auto dy = random_floats(size, 20);
  const auto xd = widen(x), wd = widen(weight), bd = widen(bias), dyd = widen(dy);
  std::vector<double> y(size), stats(std::size_t(s.batch * s.groups * 2)), dx(size),
      dweight(channels), dbias(channels);
  cpu::groupnorm_forward(s, xd.data(), wd.data(), bd.data(), y.data(), stats.data());
  cpu::groupnorm_backward(s, xd.data(), wd.data(), stats.data(), dyd.data(), dx.data(),
                          dweight.data(), dbias.data());

  DeviceArrays d(backend);
  const float *x_in = d.put(x), *w_in = d.put(weight), *b_in = d.put(bias), *dy_in = d.put(dy);
  float *y_out = d.zeros(size), *stats_out = d.zeros(stats.size()), *dx_out = d.zeros(size),
        *dw_out = d.zeros(channels), *db_out = d.zeros(channels), *dw_only = d.zeros(channels),
        *db_only = d.zeros(channels),
        *work = d.zeros(std::size_t(std::max<std::int64_t>(backend.groupnorm_workspace(s), 1)));
  backend.groupnorm_forward(s, x_in, w_in, b_in, y_out, stats_out);
  backend.groupnorm_backward(s, x_in, w_in, stats_out, dy_in, dx_out, dw_out, db_out, work);
  backend.groupnorm_backward(s, x_in, w_in, stats_out, dy_in, nullptr, dw_only, db_only, work);
  const std::string shape = "groupnorm " + std::to_string(s.pixels) + "px x" +
                            std::to_string(s.channels) + " g" + std::to_string(s.groups);
  expect_close(shape + " y", d.get(y_out, size), y);
  expect_close(shape + " stats", d.get(stats_out, stats.size()), stats);
  expect_close(shape + " dx", d.get(dx_out, size), dx);
  expect_close(shape + " dweight", d.get(dw_out, channels), dweight);
  expect_close(shape + " dbias", d.get(db_out, channels), dbias);
  expect_close(shape + " dweight without dx", d.get(dw_only, channels), dweight);
  expect_close(shape + " dbias without dx", d.get(db_only, channels), dbias);
}

// Dropout's mask is counter-based integer arithmetic: every backend keeps exactly the
// reference's elements.
inline void check_dropout(Backend& backend, std::int64_t n, double rate, std::uint64_t seed) {
  const auto x = random_floats(std::size_t(n), 21), dy = random_floats(std::size_t(n), 22);
  const DropoutMask mask = dropout_mask(rate, seed);
  const auto xd = widen(x), dyd = widen(dy);
  std::vector<double> y(x.size()), dx(x.size());
  cpu::dropout(n, mask, xd.data(), y.data());
  cpu::dropout(n, mask, dyd.data(), dx.data());
  DeviceArrays d(backend);
  const float *x_in = d.put(x), *dy_in = d.put(dy);
  float *y_out = d.zeros(x.size()), *dx_out = d.zeros(x.size());
  backend.dropout_forward(n, mask, x_in, y_out);
  backend.dropout_backward(n, mask, dy_in, dx_out);
  const auto y_host = d.get(y_out, x.size()), dx_host = d.get(dx_out, x.size());
  expect_close("dropout y", y_host, y);
  expect_close("dropout dx", dx_host, dx);
  for (std::size_t i = 0; i < y.size(); ++i) {
    ASSERT_EQ(y_host[i] == 0.0f, y[i] == 0.0) << "dropout mask differs at " << i;
  }
}

inline void check_optimizers(Backend& backend, std::int64_t n) {
  const auto params = random_floats(std::size_t(n), 12), grads = random_floats(std::size_t(n), 13),
             anchor = random_floats(std::size_t(n), 14);
  const SgdSettings sgd{0.1f, 0.9f, 0.01f, 0.5f};
  const AdamSettings adam{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.5f};
  auto p_sgd = widen(params), p_adam = widen(params), velocity = std::vector<double>(params.size()),
       m = velocity, v = velocity;
  const auto g = widen(grads), a = widen(anchor);
  for (int step = 1; step <= 3; ++step) {
    cpu::sgd_step(sgd, n, p_sgd.data(), g.data(), velocity.data(), a.data());
    cpu::adam_step(adam, step, n, p_adam.data(), g.data(), m.data(), v.data(), a.data());
  }
  DeviceArrays d(backend);
  float *sgd_params = d.put(params), *adam_params = d.put(params), *vel = d.zeros(params.size()),
        *m_out = d.zeros(params.size()), *v_out = d.zeros(params.size());
  const float *g_in = d.put(grads), *a_in = d.put(anchor);
  for (int step = 1; step <= 3; ++step) {
    backend.sgd_step(sgd, n, sgd_params, g_in, vel, a_in);
    backend.adam_step(adam, step, n, adam_params, g_in, m_out, v_out, a_in);
  }
  expect_close("sgd params", d.get(sgd_params, params.size()), p_sgd);
  expect_close("adam params", d.get(adam_params, params.size()), p_adam);
}

// Every op over a set of odd shapes.
inline void check_backend_ops(Backend& backend) {
  for (const DenseShape& s : {DenseShape{1, 1, 1}, DenseShape{3, 17, 5}, DenseShape{33, 65, 10}}) {
    check_dense(backend, s);
  }
  for (const ConvShape& s :
       {ConvShape{2, 5, 6, 3, 4, 3, 1, 1}, ConvShape{1, 7, 7, 2, 3, 3, 2, 0},
        ConvShape{3, 28, 28, 1, 8, 5, 1, 2}, ConvShape{2, 9, 11, 5, 7, 5, 2, 2},
        ConvShape{2, 4, 4, 3, 2, 1, 1, 0},
        ConvShape{7, 14, 14, 32, 64, 5, 1, 2}}) {  // the cnn's conv2: blocks over 2 threads
    check_conv2d(backend, s);
  }
  check_pool_relu_softmax(backend, PoolShape{3, 7, 6, 5}, 10);
  check_pool_relu_softmax(backend, PoolShape{1, 2, 2, 1}, 2);
  // (batch, height, width, channels, kernel, stride): overlapping, skipping, uneven.
  for (const PoolShape& s :
       {PoolShape{2, 7, 6, 3, 3, 2}, PoolShape{1, 8, 9, 2, 3, 3}, PoolShape{3, 5, 5, 4, 2, 1},
        PoolShape{2, 11, 10, 5, 4, 3}, PoolShape{2, 5, 4, 3, 2, 2}}) {
    check_pools(backend, s);
  }
  // (batch, pixels, channels, groups)
  for (const GroupNormShape& s :
       {GroupNormShape{2, 6, 4, 2}, GroupNormShape{3, 25, 6, 1}, GroupNormShape{1, 4, 3, 3},
        GroupNormShape{4, 64, 32, 8}, GroupNormShape{5, 1, 8, 4}}) {
    check_groupnorm(backend, s);
  }
  check_dropout(backend, 1000, 0.5, 1);
  check_dropout(backend, 100003, 0.25, 2);
  check_optimizers(backend, 1000);
  check_optimizers(backend, 100003);  // above the CPU's parallel threshold
}

}  // namespace fedchain::train::testing
