//! TODO(helper): store
