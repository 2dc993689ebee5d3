//! TODO(helper): trust
