//! A small time-to-live cache with one load at a time per key: many browsers watching the
//! overview share one mq_dashboard call per window and interval, instead of one each.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Slot<V> = Arc<tokio::sync::Mutex<Option<(Instant, Arc<V>)>>>;

pub struct TtlCache<V> {
    slots: Mutex<HashMap<String, Slot<V>>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        TtlCache {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<V> TtlCache<V> {
    /// The value under `key` if it is younger than `ttl`, else what `load` gives (cached when
    /// it succeeds). Callers asking for the same key while a load runs wait for it.
    pub async fn get_or_load<E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key.to_owned()).or_default().clone()
        };
        let mut entry = slot.lock().await;
        if let Some((at, value)) = entry.as_ref() {
            if at.elapsed() < ttl {
                return Ok(value.clone());
            }
        }
        let value = Arc::new(load().await?);
        *entry = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn loads_once_within_the_ttl_and_again_after() {
        let cache: TtlCache<usize> = TtlCache::default();
        let loads = AtomicUsize::new(0);
        let load = || async { Ok::<_, ()>(loads.fetch_add(1, Ordering::SeqCst) + 1) };
        assert_eq!(
            *cache
                .get_or_load("a", Duration::from_secs(60), load)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            *cache
                .get_or_load("a", Duration::from_secs(60), load)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            *cache
                .get_or_load("b", Duration::from_secs(60), load)
                .await
                .unwrap(),
            2
        );
        // A zero TTL is always stale.
        assert_eq!(
            *cache.get_or_load("a", Duration::ZERO, load).await.unwrap(),
            3
        );
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache: TtlCache<u8> = TtlCache::default();
        let r = cache
            .get_or_load("k", Duration::from_secs(60), || async {
                Err::<u8, _>("down")
            })
            .await;
        assert_eq!(r.unwrap_err(), "down");
        let v = cache
            .get_or_load("k", Duration::from_secs(60), || async { Ok::<_, &str>(7) })
            .await
            .unwrap();
        assert_eq!(*v, 7);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let cache: Arc<TtlCache<usize>> = Arc::new(TtlCache::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                *cache
                    .get_or_load("k", Duration::from_secs(60), || async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(loads.fetch_add(1, Ordering::SeqCst))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 0);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
