//! TODO(helper): recovery
