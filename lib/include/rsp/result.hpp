// Result<T>: a value or an error, for the data path (std::expected is not in g++ 12).
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace rsp {

// An error as a value: a machine-readable code in a domain-specific enum plus a message
// for humans. E is usually a small enum (wire::DecodeError, ...) — see each layer.
template <typename E>
struct Error {
  E code{};
  std::string message;
};

template <typename E>
Error<E> make_error(E code, std::string message = {}) {
  return Error<E>{code, std::move(message)};
}

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = Error<E>;

  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}          // NOLINT
  Result(Error<E> error) : state_(std::in_place_index<1>, std::move(error)) {}   // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error<E>& error() const& { assert(!has_value()); return std::get<1>(state_); }
  Error<E>&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error<E>> state_;
};

// Result<void, E>: success or an error.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(Error<E> error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error<E>& error() const& { assert(!ok_); return error_; }
  Error<E>&& error() && { assert(!ok_); return std::move(error_); }

 private:
  Error<E> error_{};
  bool ok_ = true;
};

}  // namespace rsp
