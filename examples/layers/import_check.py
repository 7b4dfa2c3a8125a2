import requests


# The tutorial's best practice 5 ("Test Layers Before Production: verify
# imports work"): say where `import requests` found the library. From a layer
# it is under /opt/python/...; anywhere else the layer was not used.
def lambda_handler(event, context):
    return {'requests_file': requests.__file__, 'requests_version': requests.__version__}
