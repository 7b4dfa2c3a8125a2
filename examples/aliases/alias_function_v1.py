import json

def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps({
            'message': 'Version 1 - Stable',
            'version': 1
        })
    }
