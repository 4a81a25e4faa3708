/* The C target exists to publish include/swiftconv.h; the implementation is Swift (SwiftConvCAPI). */
