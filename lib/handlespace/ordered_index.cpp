// The index of the Ordered policies (Priority and the least-used family): FIFO buckets of equal
// keys in a binary min-heap on the key, found by key through a hash index. Adding an element
// to an existing key is O(1); a new key costs a heap push (O(1) expected for random keys,
// O(log b) worst for b distinct keys); selecting the least key and moving a used element to the
// back of its bucket is O(1).
#include "handlespace_impl.hpp"

namespace rsp::handlespace {

using detail::Element;
using detail::KeyBucket;
using detail::kNone;
using detail::Pool;

void Handlespace::Impl::bucket_heap_sift_up(Pool& pool, std::size_t i) {
  auto& heap = pool.bucket_heap;
  const detail::KeyHeapEntry entry = heap[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap[parent].key <= entry.key) break;
    heap[i] = heap[parent];
    pool.buckets[heap[i].bucket].heap_pos = static_cast<std::uint32_t>(i);
    i = parent;
  }
  heap[i] = entry;
  pool.buckets[entry.bucket].heap_pos = static_cast<std::uint32_t>(i);
}

void Handlespace::Impl::bucket_heap_sift_down(Pool& pool, std::size_t i) {
  auto& heap = pool.bucket_heap;
  const detail::KeyHeapEntry entry = heap[i];
  const std::size_t n = heap.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1].key < heap[child].key) ++child;
    if (heap[child].key >= entry.key) break;
    heap[i] = heap[child];
    pool.buckets[heap[i].bucket].heap_pos = static_cast<std::uint32_t>(i);
    i = child;
  }
  heap[i] = entry;
  pool.buckets[entry.bucket].heap_pos = static_cast<std::uint32_t>(i);
}

void Handlespace::Impl::ordered_insert(Pool& pool, std::uint32_t e, std::uint32_t key) {
  const std::uint32_t hash = detail::mix64(key);
  std::uint32_t b = pool.bucket_by_key.find(pool.buckets, hash, key);
  if (b == kNone) {
    if (!pool.free_buckets.empty()) {
      b = pool.free_buckets.back();
      pool.free_buckets.pop_back();
      pool.buckets[b] = KeyBucket{};
    } else {
      b = static_cast<std::uint32_t>(pool.buckets.size());
      pool.buckets.emplace_back();
    }
    pool.buckets[b].key = key;
    pool.bucket_by_key.insert(pool.buckets, hash, b);
    pool.bucket_heap.push_back({key, b});
    bucket_heap_sift_up(pool, pool.bucket_heap.size() - 1);
  }
  KeyBucket& bucket = pool.buckets[b];
  Element& el = elements[e];
  el.bucket = b;
  el.link_prev = bucket.tail;
  el.link_next = kNone;
  if (bucket.tail != kNone) {
    elements[bucket.tail].link_next = e;
  } else {
    bucket.head = e;
  }
  bucket.tail = e;
}

void Handlespace::Impl::ordered_requeue(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  KeyBucket& bucket = pool.buckets[el.bucket];
  if (bucket.tail == e) return;
  // Unlink (e is not the tail, so it has a successor) and append at the tail.
  if (el.link_prev != kNone) {
    elements[el.link_prev].link_next = el.link_next;
  } else {
    bucket.head = el.link_next;
  }
  elements[el.link_next].link_prev = el.link_prev;
  elements[bucket.tail].link_next = e;
  el.link_prev = bucket.tail;
  el.link_next = kNone;
  bucket.tail = e;
}

void Handlespace::Impl::ordered_erase(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  const std::uint32_t b = el.bucket;
  KeyBucket& bucket = pool.buckets[b];
  if (el.link_prev != kNone) {
    elements[el.link_prev].link_next = el.link_next;
  } else {
    bucket.head = el.link_next;
  }
  if (el.link_next != kNone) {
    elements[el.link_next].link_prev = el.link_prev;
  } else {
    bucket.tail = el.link_prev;
  }
  el.link_prev = el.link_next = el.bucket = kNone;
  if (bucket.head != kNone) return;

  // The bucket is empty: drop it from the hash index and the heap.
  pool.bucket_by_key.erase(detail::mix64(bucket.key), b);
  const std::size_t i = bucket.heap_pos;
  const detail::KeyHeapEntry last = pool.bucket_heap.back();
  pool.bucket_heap.pop_back();
  if (i < pool.bucket_heap.size()) {
    pool.bucket_heap[i] = last;
    pool.buckets[last.bucket].heap_pos = static_cast<std::uint32_t>(i);
    if (i > 0 && pool.bucket_heap[(i - 1) / 2].key > last.key) {
      bucket_heap_sift_up(pool, i);
    } else {
      bucket_heap_sift_down(pool, i);
    }
  }
  pool.free_buckets.push_back(b);
}

}  // namespace rsp::handlespace
