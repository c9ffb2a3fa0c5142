// GMP's integers (mpz_class, from <gmpxx.h>) as task arguments and results.
//
//   #include <mp/gmp.hpp>
//   mpz_class cpu_bound_func(int num);                    // seed 002: ~a million digits
//   auto products = executor.map(cpu_bound_func, nums);  // cross the process boundary
//
// An integer travels as its sign and its magnitude in 64-bit words (mpz_export): about
// as many bytes as GMP itself holds, copied, not converted to decimal text. Include this
// header wherever such integers are sent; link the program with gmpxx and gmp
// (pkg-config gmpxx). mp itself does not depend on GMP.
#pragma once

#include <gmpxx.h>

#include <cereal/cereal.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <vector>

#include "mp/errors.hpp"

// cereal finds non-member save/load in its own namespace; mpz_class lives in the global
// one, where GMP defines it.
namespace cereal {

template <class Archive>
void save(Archive& ar, const mpz_class& value) {
  const mpz_srcptr z = value.get_mpz_t();
  std::vector<std::uint64_t> magnitude((mpz_sizeinbase(z, 2) + 63) / 64);
  std::size_t words = 0;
  // Least significant word first, each word in native byte order.
  mpz_export(magnitude.data(), &words, -1, sizeof(std::uint64_t), 0, 0, z);
  magnitude.resize(words);  // zero exports no word
  const auto sign = static_cast<std::int8_t>(mpz_sgn(z));
  ar(make_nvp("sign", sign), make_nvp("magnitude", magnitude));
}

template <class Archive>
void load(Archive& ar, mpz_class& value) {
  std::int8_t sign = 0;
  std::vector<std::uint64_t> magnitude;
  ar(make_nvp("sign", sign), make_nvp("magnitude", magnitude));
  // One form per number: zero has no word, others no leading zero word.
  const bool zero = magnitude.empty();
  if (sign < -1 || sign > 1 || (sign == 0) != zero || (!zero && magnitude.back() == 0)) {
    throw mp::SerializationError("mp: the bytes do not hold an mpz_class");
  }
  mpz_import(value.get_mpz_t(), magnitude.size(), -1, sizeof(std::uint64_t), 0, 0,
             magnitude.data());
  if (sign < 0) {
    mpz_neg(value.get_mpz_t(), value.get_mpz_t());
  }
}

}  // namespace cereal
