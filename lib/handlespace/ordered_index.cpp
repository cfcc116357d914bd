// The index of the Ordered policies (Priority and the least-used family): FIFO buckets of equal
// keys in a binary min-heap on the key, found by key through a hash index. Adding an element
// to an existing key is O(1); a new key costs a heap push (O(1) expected for random keys,
// O(log b) worst for b distinct keys); selecting the least key and moving a used element to the
// back of its bucket is O(1).
#include "handlespace_impl.hpp"

namespace rsp::handlespace {

using detail::Element;
using detail::KeyBucket;
using detail::KeyHeapEntry;
using detail::kNone;
using detail::Pool;

void Handlespace::Impl::bucket_heap_sift_up(Pool& pool, std::size_t i) {
  auto& heap = pool.bucket_heap;
  const KeyHeapEntry entry = heap[i];
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
  const KeyHeapEntry entry = heap[i];
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
  Element& el = elements[e];
  const std::uint32_t hash = detail::mix64(key);
  std::uint32_t b = pool.bucket_by_key.find(pool.buckets, hash, key);
  el.link_next = kNone;
  if (b == kNone) {
    if (!pool.free_buckets.empty()) {
      b = pool.free_buckets.back();
      pool.free_buckets.pop_back();
    } else {
      b = static_cast<std::uint32_t>(pool.buckets.size());
      pool.buckets.emplace_back();
    }
    pool.buckets[b].key = key;
    pool.bucket_by_key.insert(pool.buckets, hash, b);
    el.bucket = b;
    el.link_prev = kNone;
    pool.bucket_heap.push_back({key, b, e, e, el.id});
    bucket_heap_sift_up(pool, pool.bucket_heap.size() - 1);
    return;
  }
  KeyHeapEntry& entry = pool.bucket_heap[pool.buckets[b].heap_pos];
  el.bucket = b;
  el.link_prev = entry.tail;
  elements[entry.tail].link_next = e;
  entry.tail = e;
}

void Handlespace::Impl::ordered_requeue(Pool& pool, std::size_t pos, std::uint32_t e) {
  KeyHeapEntry& entry = pool.bucket_heap[pos];
  if (entry.tail == e) return;
  Element& el = elements[e];
  // e is not the tail, so it has a successor.
  if (el.link_prev != kNone) {
    elements[el.link_prev].link_next = el.link_next;
  } else {
    entry.head = el.link_next;
    entry.head_id = elements[el.link_next].id;
  }
  elements[el.link_next].link_prev = el.link_prev;
  elements[entry.tail].link_next = e;
  el.link_prev = entry.tail;
  el.link_next = kNone;
  entry.tail = e;
}

void Handlespace::Impl::ordered_erase(Pool& pool, std::uint32_t e) {
  Element& el = elements[e];
  const std::uint32_t b = el.bucket;
  const std::size_t pos = pool.buckets[b].heap_pos;
  KeyHeapEntry& entry = pool.bucket_heap[pos];
  if (el.link_prev != kNone) {
    elements[el.link_prev].link_next = el.link_next;
  } else {
    entry.head = el.link_next;
    if (entry.head != kNone) entry.head_id = elements[entry.head].id;
  }
  if (el.link_next != kNone) {
    elements[el.link_next].link_prev = el.link_prev;
  } else {
    entry.tail = el.link_prev;
  }
  el.link_prev = el.link_next = el.bucket = kNone;
  if (entry.head != kNone) return;

  // The bucket is empty: drop it from the hash index and the heap.
  pool.bucket_by_key.erase(detail::mix64(entry.key), b);
  const KeyHeapEntry last = pool.bucket_heap.back();
  pool.bucket_heap.pop_back();
  if (pos < pool.bucket_heap.size()) {
    pool.bucket_heap[pos] = last;
    pool.buckets[last.bucket].heap_pos = static_cast<std::uint32_t>(pos);
    if (pos > 0 && pool.bucket_heap[(pos - 1) / 2].key > last.key) {
      bucket_heap_sift_up(pool, pos);
    } else {
      bucket_heap_sift_down(pool, pos);
    }
  }
  pool.free_buckets.push_back(b);
}

}  // namespace rsp::handlespace
