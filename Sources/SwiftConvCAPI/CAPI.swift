import CSwiftConv
