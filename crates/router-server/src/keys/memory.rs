//! API keys in memory: the store without `server.records_path` (lost when the process ends).

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{ApiKey, KeyStore, KeyStoreError};

/// The keys, oldest first.
#[derive(Debug, Default)]
pub(crate) struct MemoryKeys {
    keys: Mutex<Vec<ApiKey>>,
}

impl MemoryKeys {
    fn lock(&self) -> MutexGuard<'_, Vec<ApiKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeyStore for MemoryKeys {
    fn create(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        self.lock().push(key.clone());
        Ok(())
    }

    fn list(&self) -> Result<Vec<ApiKey>, KeyStoreError> {
        Ok(self.lock().clone())
    }

    fn get(&self, hash: &str) -> Result<Option<ApiKey>, KeyStoreError> {
        Ok(self.lock().iter().find(|it| it.hash == hash).cloned())
    }

    fn update(&self, key: &ApiKey) -> Result<bool, KeyStoreError> {
        let mut keys = self.lock();
        let Some(stored) = keys.iter_mut().find(|it| it.hash == key.hash) else {
            return Ok(false);
        };
        *stored = key.clone();
        Ok(true)
    }

    fn delete(&self, hash: &str) -> Result<bool, KeyStoreError> {
        let mut keys = self.lock();
        let before = keys.len();
        keys.retain(|it| it.hash != hash);
        Ok(keys.len() < before)
    }
}
