//! TODO(helper): sas
