import json

def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps({
            'message': 'Version 2 - New Feature',
            'version': 2,
            'feature': 'Enhanced response'
        })
    }
