package servicebus

// LargestLocal is largestLocal for the tests that publish through the
// local queues (package servicebus_test, which may import localqueue).
var LargestLocal = largestLocal
