let exampleSupport = 1
