"""Image data: dataset loaders, patches, normalisation and whitening."""
